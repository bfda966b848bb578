package loadgen

import (
	"bytes"
	"math"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// user is one registered bench user: a member of one chat, a listener, and
// possibly a sender. Its sender goroutine writes; its reader goroutine
// handles acks and deliveries.
type user struct {
	*conn
	name string
	chat int // index of its chat
	pos  int // position among the chat's members

	// window holds a token per request in flight; its capacity is the
	// sender's window.
	window chan struct{}
	// lastSeq is the sequence number of the last message sent; messages
	// are numbered from 1.
	lastSeq atomic.Uint64
	// writeDeadline is the one set on the connection; sender only.
	writeDeadline time.Time

	mu       sync.Mutex           // guards inflight
	inflight map[uint64]time.Time // seq -> send time, until its answer
	ackLat   samples              // send -> ack, accepted messages only
	delLat   samples              // send -> receipt, as this user receives

	// Written by the reader only: all deliveries, and first receipts.
	deliveries, unique atomic.Int64

	// Owned by the reader; read by others only after it has returned.
	acked      []uint64  // seqs answered 200, in order
	recv       [][]uint8 // [sender pos][seq] -> times received, saturating
	lastID     []byte    // id of the last delivery, to check log order
	unexpected int64     // deliveries that no bench sender of the chat sent
	outOfOrder int64     // deliveries whose id is not above the previous one
}

// send writes message seq, stamped at, to the user's chat; now is the
// time. The caller holds a window token for it, which the answer, or a
// failed write, gives back. buf is scratch space, returned for reuse.
func (u *user) send(r *runner, seq uint64, at, now time.Time, buf []byte) ([]byte, error) {
	buf = appendMessage(buf[:0], r.chatNames[u.chat], seq, at, r.cfg.Size)
	u.lastSeq.Store(seq)
	u.mu.Lock()
	u.inflight[seq] = at
	u.mu.Unlock()
	r.inflight.Add(1)
	// Moving the deadline costs a timer update per message; one at least
	// half left still bounds the write.
	if now.Add(writeWait / 2).After(u.writeDeadline) {
		u.writeDeadline = now.Add(writeWait)
		_ = u.ws.SetWriteDeadline(u.writeDeadline)
	}
	if err := u.ws.WriteMessage(websocket.TextMessage, buf); err != nil {
		u.mu.Lock()
		_, unanswered := u.inflight[seq]
		delete(u.inflight, seq)
		u.mu.Unlock()
		if unanswered {
			r.inflight.Add(-1)
			<-u.window
		}
		r.errs.add("write failed", 1)
		return buf, err
	}
	r.sent.Add(1)
	return buf, nil
}

// appendMessage appends a GroupMessageRequest. It is written by hand rather
// than with encoding/json because it is the generator's hot path and every
// value in it is known to need no escaping: the chat name is the
// generator's own and the content is digits, spaces and x's. The content is
// "<unix nanos> <seq> " padded with x to size bytes, so that every receiver
// can tell who sent what when.
func appendMessage(b []byte, chat string, seq uint64, at time.Time, size int) []byte {
	b = append(b, `{"type":"GroupMessageRequest","messageID":`...)
	b = strconv.AppendUint(b, seq, 10)
	b = append(b, `,"chatname":"`...)
	b = append(b, chat...)
	b = append(b, `","content":"`...)
	start := len(b)
	b = strconv.AppendInt(b, at.UnixNano(), 10)
	b = append(b, ' ')
	b = strconv.AppendUint(b, seq, 10)
	b = append(b, ' ')
	for len(b)-start < size {
		b = append(b, 'x')
	}
	return append(b, `"}`...)
}

// parseContent reads back the send time and sequence number of a message
// content written by appendMessage.
func parseContent(b []byte) (sent time.Time, seq uint64, ok bool) {
	nanos, rest, ok1 := bytes.Cut(b, []byte{' '})
	seqText, _, ok2 := bytes.Cut(rest, []byte{' '})
	neg := len(nanos) > 0 && nanos[0] == '-'
	if neg {
		nanos = nanos[1:]
	}
	n, ok3 := parseDecimal(nanos)
	seq, ok4 := parseDecimal(seqText)
	if !ok1 || !ok2 || !ok3 || !ok4 || seq == 0 || n > math.MaxInt64 {
		return time.Time{}, 0, false
	}
	if neg {
		return time.Unix(0, -int64(n)), seq, true
	}
	return time.Unix(0, int64(n)), seq, true
}

// parseDecimal parses 1 to 19 decimal digits, which cannot overflow a
// uint64.
func parseDecimal(b []byte) (uint64, bool) {
	if len(b) == 0 || len(b) > 19 {
		return 0, false
	}
	var n uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	return n, true
}

// handle is the user's reader: it takes each frame the server sends.
func (u *user) handle(r *runner, data []byte) {
	now := time.Now()
	var f frame
	if err := decodeFrame(data, &f); err != nil {
		r.errs.add("invalid frame", 1)
		return
	}
	switch {
	case f.MessageID != 0:
		u.answer(r, &f, now)
	case string(f.Type) == "GroupMessageRecv" && f.Status == http.StatusOK:
		u.receive(r, &f, now)
	case string(f.Type) == "GroupMessageRecv":
		// 201: the first message of a chat, sent during setup.
	case string(f.Type) == "PresenceChanged":
		// Members of the bench's chats coming online during setup.
	default:
		r.errs.add("unexpected "+string(f.Type), 1)
	}
}

// answer takes the server's answer to message f.MessageID.
func (u *user) answer(r *runner, f *frame, now time.Time) {
	u.mu.Lock()
	at, ok := u.inflight[f.MessageID]
	delete(u.inflight, f.MessageID)
	u.mu.Unlock()
	if !ok {
		r.errs.add("unknown answer", 1)
		return
	}
	// The deliveries owed are counted before the answer, so that the drain,
	// once nothing is in flight, knows them all.
	if string(f.Type) == "GroupMessageResponse" && f.Status == http.StatusOK {
		u.ackLat.add(now.Sub(at))
		u.acked = append(u.acked, f.MessageID)
		r.accepted.Add(1)
		r.expected.Add(int64(r.cfg.Members - 1))
	} else {
		r.errs.add(strconv.Itoa(f.Status), 1)
	}
	r.inflight.Add(-1)
	<-u.window
}

// receive counts a delivery of another member's message.
func (u *user) receive(r *runner, f *frame, now time.Time) {
	u.deliveries.Add(1)
	sender := r.userNamed(f.Sender)
	sent, seq, ok := parseContent(f.Content)
	if sender == nil || !ok || sender == u || sender.chat != u.chat ||
		string(f.Chatname) != r.chatNames[u.chat] || seq > sender.lastSeq.Load() {
		u.unexpected++
		return
	}
	if bytes.Compare(f.ID, u.lastID) <= 0 {
		u.outOfOrder++
	}
	u.lastID = append(u.lastID[:0], f.ID...)
	counts := u.recv[sender.pos]
	if need := int(seq) + 1; need > len(counts) {
		counts = append(counts, make([]uint8, max(need-len(counts), len(counts)/2))...)
		u.recv[sender.pos] = counts
	}
	if counts[seq] == 0 {
		u.unique.Add(1)
	}
	if counts[seq] < 255 {
		counts[seq]++
	}
	u.delLat.add(now.Sub(sent))
}
