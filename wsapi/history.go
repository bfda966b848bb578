package wsapi

import (
	"fmt"

	"github.com/chateau/chateau/eventlog"
	"github.com/chateau/chateau/projection"
	"github.com/oklog/ulid/v2"
)

// Answers that read the log (a history page, a replay of missed messages)
// are detached: the sequencer decides them, then a goroutine of the
// connection's own reads the events and queues the frames, so that the
// sequencer never holds a read transaction or waits on a slow reader.
// While a connection has detached work, the sequencer holds its other
// frames back (held) and hands them over in order afterwards: the
// connection's frames keep their order.

// job queues the frames of a detached answer with push, which blocks while
// the client's queue is full and reports false once the connection is
// closing. The job returns false to stop.
type job func(push func([]byte) bool) bool

// held is a frame, or a detached answer, queued behind a detached answer.
type held struct {
	frame []byte
	job   job
}

// handoffOp asks the sequencer for what it held back for c; an empty reply
// means there is nothing left and c's frames flow directly again.
type handoffOp struct {
	c     *client
	reply chan []held
}

func (o handoffOp) client() *client { return o.c }

// maxHeldFactor times the send queue is what may be held back for a
// connection with detached work before it counts as too slow.
const maxHeldFactor = 4

// send queues b for c, behind c's detached work if it has any.
func (q *sequencer) send(c *client, b []byte) {
	if c.detached {
		if len(c.held) >= maxHeldFactor*q.s.SendQueue {
			c.close(closeTooSlow, "too slow: outbound queue full", false)
			q.dropSlow(c)
			return
		}
		c.held = append(c.held, held{frame: b})
		return
	}
	queued, ok := c.enqueue(b)
	if !ok {
		q.dropSlow(c)
		return
	}
	if !c.queued {
		// The batch's first frame for c: if more than SendQueue frames of
		// earlier batches still wait, c does not keep up. Within a batch
		// the queue may grow past SendQueue: a batch can bring a member
		// of a busy chat more frames than that at once.
		if queued > q.s.SendQueue {
			c.close(closeTooSlow, "too slow: outbound queue full", false)
			q.dropSlow(c)
			return
		}
		c.queued = true
		q.queued = append(q.queued, c)
	}
	// The writer starts once the batch is queued, so that a client's
	// frames of one batch go out in one system call; but a client that
	// gets many in one batch has its writer started early, to drain while
	// the rest is queued.
	if queued >= max(1, q.s.SendQueue/earlyWakeDivisor) {
		c.wake()
	}
}

// earlyWakeDivisor: a client's writer starts before the end of the batch
// once its queue holds this fraction of SendQueue.
const earlyWakeDivisor = 16

// wake starts the writers of the connections that frames were queued for.
func (q *sequencer) wake() {
	for i, c := range q.queued {
		c.queued = false
		c.wake()
		q.queued[i] = nil
	}
	q.queued = q.queued[:0]
}

// detach runs j for c after c's frames queued so far.
func (q *sequencer) detach(c *client, j job) {
	if c.detached {
		c.held = append(c.held, held{job: j})
		return
	}
	c.detached = true
	q.s.pumps.Add(1)
	go q.s.runDetached(c, j)
}

// handoff answers a detached goroutine's handoffOp.
func (q *sequencer) handoff(o handoffOp) {
	items := o.c.held
	o.c.held = nil
	if len(items) == 0 {
		o.c.detached = false
	}
	o.reply <- items
}

// runDetached runs j, then whatever the sequencer held back meanwhile, until
// nothing is left or the connection closes.
func (s *Server) runDetached(c *client, j job) {
	defer s.pumps.Done()
	push := func(b []byte) bool {
		ok := c.out.pushWait(b, c.done, c.wake)
		return ok
	}
	items := []held{{job: j}}
	for len(items) > 0 {
		for _, it := range items {
			if it.job != nil && !it.job(push) || it.job == nil && !push(it.frame) {
				return
			}
		}
		reply := make(chan []held, 1)
		s.ops <- handoffOp{c: c, reply: reply}
		items = <-reply
	}
}

// history decides a HistoryRequest and detaches the reading of its page.
func (q *sequencer) history(c *client, r *request) {
	var ids []ulid.ULID
	if r.chatname != "" {
		if !q.checkMember(c, r) {
			return
		}
		ids = q.s.State.ChatLog(r.chatname)
	} else {
		if !projection.ValidUsername(r.recipient) {
			q.fail(c, r, reasonf(ErrBadRequest, "recipient %q is not a valid username", truncate(r.recipient, 64)))
			return
		}
		if _, ok := q.s.State.User(r.recipient); !ok {
			q.fail(c, r, reasonf(ErrNotFound, "user %q has never registered", r.recipient))
			return
		}
		ids = q.s.State.DirectLog(c.user, r.recipient)
	}
	page, more := projection.Page(ids, r.before, r.after, r.limit)
	page = append([]ulid.ULID(nil), page...) // ids grows under later Applies
	q.steps = append(q.steps, step{c: c, r: r, event: -1, status: StatusOK, job: func(push func([]byte) bool) bool {
		f := historyFrame{Type: frameHistory, Status: StatusOK, MessageID: r.messageID, Chatname: r.chatname,
			Recipient: r.recipient, Messages: make([]historyMessage, 0, len(page)), More: more}
		err := q.s.Log.Get(page, func(rec eventlog.Record) error {
			e, err := projection.Decode(rec.ID, rec.Data)
			if err != nil {
				return err
			}
			f.Messages = append(f.Messages, historyMessage{ID: e.ID.String(), Sender: e.Actor, Content: content(e),
				Time: projection.FormatTime(e.Time()), Random: isRandom(e)})
			return nil
		})
		if err != nil {
			q.s.Logger.Error("read history", "err", err)
			return push(errorFrame(r, ErrStorage))
		}
		return push(marshal(&f))
	}})
}

// chatList answers a ChatListRequest from the projections.
func (q *sequencer) chatList(c *client, r *request) {
	f := chatListFrame{Type: frameChatList, Status: StatusOK, MessageID: r.messageID, Chats: []chatSummary{}}
	for _, chat := range q.s.State.ChatsOf(c.user) {
		sum := chatSummary{Chatname: chat.Name, Members: chat.Members}
		if chat.LastID != (ulid.ULID{}) {
			id := chat.LastID.String()
			sum.LastID = &id
		}
		f.Chats = append(f.Chats, sum)
	}
	q.answer(c, r, marshal(&f))
}

// replayChunk is how many events a replay reads per read transaction.
const replayChunk = 256

// replay returns the job that sends user every message addressed to them
// with an id in (since, upto], in log order, then ReplayComplete with the
// number sent and the id of the newest message covered (their own ones
// included, which are not sent), or null. Later messages reach the client
// live, held back until the job is done.
func (s *Server) replay(user string, r *request, upto ulid.ULID) job {
	return func(push func([]byte) bool) bool {
		var ids []ulid.ULID
		s.View(func(st *projection.State) {
			lists := st.Inbox(user)
			for i, l := range lists {
				lists[i] = projection.Range(l, r.since, upto)
			}
			ids = projection.Merge(lists) // a copy: safe after the lock
		})
		count := 0
		var last *string
		for len(ids) > 0 {
			chunk := ids[:min(replayChunk, len(ids))]
			ids = ids[len(chunk):]
			var frames [][]byte
			err := s.Log.Get(chunk, func(rec eventlog.Record) error {
				e, err := projection.Decode(rec.ID, rec.Data)
				if err != nil {
					return err
				}
				if e.Actor != user {
					frames = append(frames, deliveryFrame(e, true))
				}
				return nil
			})
			if err != nil {
				s.Logger.Error("replay", "user", user, "err", err)
				return push(errorFrame(r, fmt.Errorf("%w: replay: %w", ErrStorage, err)))
			}
			for _, b := range frames {
				if !push(b) {
					return false
				}
			}
			count += len(frames)
			id := chunk[len(chunk)-1].String()
			last = &id
		}
		return push(marshal(&replayCompleteFrame{Type: frameReplayComplete, Status: StatusOK, MessageID: r.messageID, Count: count, LastID: last}))
	}
}

// reanswer returns the job that answers r, a retry, as the request that
// stored event id was answered. Receipts match by hash, so it checks that
// the event is user's and carries r's messageID.
func (s *Server) reanswer(user string, r *request, id ulid.ULID) job {
	return func(push func([]byte) bool) bool {
		var answer []byte
		err := s.Log.Get([]ulid.ULID{id}, func(rec eventlog.Record) error {
			e, err := projection.Decode(rec.ID, rec.Data)
			if err != nil {
				return err
			}
			if e.Actor != user || e.RequestID != string(r.messageID) {
				return fmt.Errorf("receipt %s is %s's %s, not %s's %s", id, e.Actor, e.RequestID, user, r.messageID)
			}
			answer = ackFrame(r, e)
			return nil
		})
		if err != nil {
			s.Logger.Error("answer a retry", "user", user, "err", err)
			return push(errorFrame(r, fmt.Errorf("%w: %w", ErrStorage, err)))
		}
		return push(answer)
	}
}

func content(e projection.Event) string {
	switch p := e.Payload.(type) {
	case projection.ChatCreated:
		return p.Content
	case projection.GroupMessagePosted:
		return p.Content
	case projection.DirectMessageSent:
		return p.Content
	}
	return ""
}

func isRandom(e projection.Event) bool {
	p, ok := e.Payload.(projection.DirectMessageSent)
	return ok && p.Random
}
