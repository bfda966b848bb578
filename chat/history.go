package chat

import (
	"fmt"

	"github.com/chateau/chateau/eventlog"
	"github.com/chateau/chateau/projection"
	"github.com/oklog/ulid/v2"
)

// history decides a HistoryRequest and detaches the reading of its page.
func (q *sequencer) history(s *Session, r *Request) {
	var ids []ulid.ULID
	if r.Chatname != "" {
		if !q.checkMember(s, r) {
			return
		}
		ids = q.c.State.ChatLog(r.Chatname)
	} else {
		if !projection.ValidUsername(r.Recipient) {
			q.fail(s, r, errBadRecipient(r.Recipient))
			return
		}
		if _, ok := q.c.State.User(r.Recipient); !ok {
			q.fail(s, r, Reasonf(ErrNotFound, "user %q has never registered", r.Recipient))
			return
		}
		ids = q.c.State.DirectLog(s.user, r.Recipient)
	}
	page, more := projection.Page(ids, r.Before, r.After, r.Limit)
	page = append([]ulid.ULID(nil), page...) // ids grows under later Applies
	q.steps = append(q.steps, step{s: s, r: r, event: -1, status: StatusOK, job: q.c.historyPage(r, page, more)})
}

// historyPage returns the job that reads the messages of page and answers
// r with them.
func (c *Core) historyPage(r *Request, page []ulid.ULID, more bool) job {
	return func(push func([]byte) bool) bool {
		f := Frame{Type: FrameHistory, Status: StatusOK, MessageID: r.MessageID, Chatname: r.Chatname,
			Recipient: r.Recipient, Messages: make([]HistoryMessage, 0, len(page)), More: more}
		err := c.Log.Get(page, func(rec eventlog.Record) error {
			e, err := projection.Decode(rec.ID, rec.Data)
			if err != nil {
				return err
			}
			f.Messages = append(f.Messages, HistoryMessage{ID: e.ID, Sender: e.Actor, Content: content(e),
				Time: e.Time(), Random: isRandom(e)})
			return nil
		})
		if err != nil {
			c.Logger.Error("read history", "err", err)
			return push(c.Encode(errorFrame(r, ErrStorage)))
		}
		return push(c.Encode(f))
	}
}

// chatList answers a ChatListRequest from the projections.
func (q *sequencer) chatList(s *Session, r *Request) {
	f := Frame{Type: FrameChatList, Status: StatusOK, MessageID: r.MessageID, Chats: []ChatSummary{}}
	for _, chat := range q.c.State.ChatsOf(s.user) {
		f.Chats = append(f.Chats, ChatSummary{Chatname: chat.Name, Members: chat.Members, LastID: chat.LastID})
	}
	q.answer(s, r, f)
}

// replayChunk is how many events a replay reads per read transaction.
const replayChunk = 256

// replay returns the job that sends user every message addressed to them
// with an id in (since, upto], in log order, then ReplayComplete with the
// number sent and the id of the newest message covered (their own ones
// included, which are not sent), or null. Later messages reach the client
// live, held back until the job is done.
func (c *Core) replay(user string, r *Request, upto ulid.ULID) job {
	return func(push func([]byte) bool) bool {
		var ids []ulid.ULID
		c.View(func(st *projection.State) {
			lists := st.Inbox(user)
			for i, l := range lists {
				lists[i] = projection.Range(l, r.Since, upto)
			}
			ids = projection.SortedConcat(lists) // a copy: safe after the lock
		})
		count, last := 0, ulid.ULID{}
		for len(ids) > 0 {
			chunk := ids[:min(replayChunk, len(ids))]
			ids = ids[len(chunk):]
			var frames [][]byte
			err := c.Log.Get(chunk, func(rec eventlog.Record) error {
				e, err := projection.Decode(rec.ID, rec.Data)
				if err != nil {
					return err
				}
				if e.Actor != user {
					frames = append(frames, c.Encode(Delivery(e, true)))
				}
				return nil
			})
			if err != nil {
				c.Logger.Error("replay", "user", user, "err", err)
				return push(c.Encode(errorFrame(r, fmt.Errorf("%w: replay: %w", ErrStorage, err))))
			}
			for _, b := range frames {
				if !push(b) {
					return false
				}
			}
			count += len(frames)
			last = chunk[len(chunk)-1]
		}
		return push(c.Encode(Frame{Type: FrameReplayComplete, Status: StatusOK, MessageID: r.MessageID, Count: count, LastID: last}))
	}
}

// reanswer returns the job that answers r, a retry, as the request that
// stored event id was answered. Receipts match by hash, so it checks that
// the event is user's and carries r's messageID.
func (c *Core) reanswer(user string, r *Request, id ulid.ULID) job {
	return func(push func([]byte) bool) bool {
		var answer []byte
		err := c.Log.Get([]ulid.ULID{id}, func(rec eventlog.Record) error {
			e, err := projection.Decode(rec.ID, rec.Data)
			if err != nil {
				return err
			}
			if e.Actor != user || e.RequestID != string(r.MessageID) {
				return fmt.Errorf("receipt %s is %s's %s, not %s's %s", id, e.Actor, e.RequestID, user, r.MessageID)
			}
			answer = c.Encode(Ack(r, e))
			return nil
		})
		if err != nil {
			c.Logger.Error("answer a retry", "user", user, "err", err)
			return push(c.Encode(errorFrame(r, fmt.Errorf("%w: %w", ErrStorage, err))))
		}
		return push(answer)
	}
}

// content is the text of a message event.
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

// isRandom reports whether e is a RandomMessageRequest's message.
func isRandom(e projection.Event) bool {
	p, ok := e.Payload.(projection.DirectMessageSent)
	return ok && p.Random
}
