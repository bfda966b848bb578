package jetlog

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/chateau/chateau/eventlog"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/oklog/ulid/v2"
)

// Headers of a JetStream atomic batch (nats-server 2.12 and later); nats.go
// has no names for them.
const (
	batchIDHeader     = "Nats-Batch-Id"
	batchSeqHeader    = "Nats-Batch-Sequence"
	batchCommitHeader = "Nats-Batch-Commit"
)

// JetStream error codes by which the server refuses a batch for what
// eventlog.ErrConflict names.
const (
	// codeDuplicateInBatch: an entry's Nats-Msg-Id is already stored, or
	// repeated within the batch.
	codeDuplicateInBatch jetstream.ErrorCode = 10201
	// codeDuplicateInProcess: a batch in flight carries the same
	// Nats-Msg-Id.
	codeDuplicateInProcess jetstream.ErrorCode = 10158
)

// Publish stores entries as one JetStream atomic batch, in the order
// given, and returns their ids. The batch is one durable write; it is
// stored whole or not at all.
//
// If an entry's Key was claimed before, by any node, or its Dedup was
// stored within DedupWindow (or either repeats within entries), the server
// refuses the batch: Publish returns an error wrapping eventlog.ErrConflict
// and nothing is stored. More than MaxBatch entries is ErrBatchTooLarge.
// While the connection is down Publish sends nothing and returns an error
// wrapping nats.ErrDisconnected. Any other error means the batch was not
// confirmed; after a timeout, or a connection lost while it was sent, it
// may or may not be stored, and the tail will read it if it was.
//
// On success Publish returns once the tail has read the batch, so Read
// holds (or has returned) every record up to and including it. The
// server's answer and that wait together are bounded by 10 s, and end
// at once if the connection drops meanwhile (the answer would be lost
// with it; the batch may or may not be stored): a node
// whose tail is still catching up on a long stream should Sync before it
// publishes. A read-only Log returns eventlog.ErrReadOnly, a closed one
// eventlog.ErrClosed.
func (l *Log) Publish(entries []eventlog.Entry) ([]ulid.ULID, error) {
	switch {
	case l.isClosed():
		return nil, eventlog.ErrClosed
	case l.readOnly:
		return nil, eventlog.ErrReadOnly
	case len(entries) == 0:
		return nil, nil
	case len(entries) > MaxBatch:
		return nil, fmt.Errorf("%w: %d entries, at most %d", ErrBatchTooLarge, len(entries), MaxBatch)
	}
	l.pubMu.Lock()
	defer l.pubMu.Unlock()
	proposals, err := propose(l.now(), later(l.proposed, l.Last()), len(entries))
	if err != nil {
		return nil, err
	}
	l.proposed = proposals[len(proposals)-1]
	ctx, cancel := context.WithTimeout(l.link(), publishWait)
	defer cancel()
	last, err := l.commit(ctx, l.batch(entries, proposals))
	if err == nil {
		err = l.waitRead(ctx, last)
	}
	var dup *duplicateSeq
	if errors.As(err, &dup) {
		err = l.duplicate(ctx, dup.seq)
	}
	if err != nil {
		switch {
		case l.ctx.Err() != nil:
			err = eventlog.ErrClosed
		case errors.Is(err, context.Canceled):
			err = fmt.Errorf("the connection to NATS dropped: %w", nats.ErrDisconnected)
		}
		return nil, fmt.Errorf("publish %d entries: %w", len(entries), err)
	}
	return l.idsOf(last-uint64(len(entries))+1, last), nil
}

// Append publishes data as entries without Key or Dedup: see Publish.
func (l *Log) Append(data ...[]byte) ([]ulid.ULID, error) {
	entries := make([]eventlog.Entry, len(data))
	for i, d := range data {
		entries[i].Data = d
	}
	return l.Publish(entries)
}

// batch turns entries into the messages of one atomic batch, each with its
// proposed id. An entry with a Key goes to a subject of its own, which
// must have no message yet; others go to "<Stream>.e".
func (l *Log) batch(entries []eventlog.Entry, proposals []ulid.ULID) []*nats.Msg {
	batchID := rand.Text() // unique among the batches in flight, well under 64 characters
	msgs := make([]*nats.Msg, len(entries))
	for i, e := range entries {
		m := nats.NewMsg(l.name + ".e")
		m.Data = e.Data
		m.Header.Set(idHeader, proposals[i].String())
		m.Header.Set(batchIDHeader, batchID)
		m.Header.Set(batchSeqHeader, strconv.Itoa(i+1))
		if e.Key != "" {
			sum := sha256.Sum256([]byte(e.Key))
			m.Subject = l.name + ".k." + hex.EncodeToString(sum[:16])
			m.Header.Set(jetstream.ExpectedLastSubjSeqHeader, "0")
		}
		if e.Dedup != "" {
			m.Header.Set(jetstream.MsgIDHeader, e.Dedup)
		}
		msgs[i] = m
	}
	if len(msgs) == 1 {
		// One message is stored whole or not at all by itself; as an
		// atomic batch, a one-replica stream would first stage it in a
		// file store of its own, for several milliseconds more.
		msgs[0].Header.Del(batchIDHeader)
		msgs[0].Header.Del(batchSeqHeader)
		return msgs
	}
	msgs[len(msgs)-1].Header.Set(batchCommitHeader, "1")
	return msgs
}

// batchAck is the server's answer to a batch's commit message, or to a
// batch of one message, published alone.
type batchAck struct {
	Error     *jetstream.APIError `json:"error,omitempty"`
	Seq       uint64              `json:"seq"`
	Count     int                 `json:"count"`
	Duplicate bool                `json:"duplicate,omitempty"`
}

// commit sends a batch's messages, the last as a request, and returns the
// stream sequence of the last one, as the server's answer says.
func (l *Log) commit(ctx context.Context, msgs []*nats.Msg) (uint64, error) {
	// While the connection is down nats.go would queue the batch and
	// send it on reconnecting, long after Publish has given up on it.
	if !l.nc.IsConnected() {
		return 0, nats.ErrDisconnected
	}
	for _, m := range msgs[:len(msgs)-1] {
		if err := l.nc.PublishMsg(m); err != nil {
			return 0, err
		}
	}
	resp, err := l.nc.RequestMsgWithContext(ctx, msgs[len(msgs)-1])
	if err != nil {
		return 0, err
	}
	var ack batchAck
	if err := json.Unmarshal(resp.Data, &ack); err != nil {
		return 0, fmt.Errorf("the server's answer %q: %w", resp.Data, err)
	}
	if len(msgs) == 1 && ack.Error == nil {
		if ack.Duplicate {
			// Stored before: the message was not stored again.
			return 0, &duplicateSeq{seq: ack.Seq}
		}
		ack.Count = 1
	}
	switch {
	case ack.Error != nil && isConflict(ack.Error.ErrorCode):
		return 0, fmt.Errorf("%w: %w", eventlog.ErrConflict, ack.Error)
	case ack.Error != nil:
		return 0, ack.Error
	case ack.Count != len(msgs) || ack.Seq < uint64(ack.Count):
		return 0, fmt.Errorf("the server stored %d of a batch of %d, the last as sequence %d", ack.Count, len(msgs), ack.Seq)
	}
	return ack.Seq, nil
}

// isConflict reports whether the server refused a batch because a Key's
// subject has a message, or will have one from a batch in flight, or a
// Dedup is already stored or in flight.
func isConflict(code jetstream.ErrorCode) bool {
	switch code {
	case jetstream.JSErrCodeStreamWrongLastSequence,
		jetstream.JSErrCodeStreamWrongLastSequenceConstant,
		codeDuplicateInBatch, codeDuplicateInProcess:
		return true
	}
	return false
}

// duplicateSeq is commit's answer to one message whose Nats-Msg-Id the
// stream holds already, at seq.
type duplicateSeq struct{ seq uint64 }

func (d *duplicateSeq) Error() string {
	return fmt.Sprintf("%v: duplicate of sequence %d", eventlog.ErrConflict, d.seq)
}

// duplicate returns the eventlog.DuplicateError of the record at seq, once
// the tail has read it, or the error of that wait.
func (l *Log) duplicate(ctx context.Context, seq uint64) error {
	if err := l.waitRead(ctx, seq); err != nil {
		return err
	}
	return &eventlog.DuplicateError{ID: l.idsOf(seq, seq)[0]}
}

// idsOf returns the ids of sequences first to last, which the tail has
// read.
func (l *Log) idsOf(first, last uint64) []ulid.ULID {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]ulid.ULID(nil), l.ids[first-1:last]...)
}
