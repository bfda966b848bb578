package chat

import (
	"fmt"

	"github.com/chateau/chateau/eventlog"
	"github.com/chateau/chateau/projection"
	"github.com/oklog/ulid/v2"
)

// history decides a HistoryRequest and detaches the reading of its page.
func (q *sequencer) history(s *Session, r *Request) {
	ids, ok := q.conversationLog(s, r)
	if !ok {
		return
	}
	page, more := projection.Page(ids, r.Before, r.After, r.Limit)
	items := make([]pageItem, len(page)) // a copy: ids grows under later Applies
	for i, id := range page {
		m, _ := q.c.State.Message(id)
		items[i] = pageItem{id: id, edit: m.LastEdit, deleted: m.Deleted != (ulid.ULID{})}
	}
	q.steps = append(q.steps, step{s: s, r: r, event: -1, status: StatusOK, job: q.c.historyPage(r, items, more)})
}

// pageItem is a message of a history page as the state knows it when the
// request is decided: its id, its newest edit's, and whether it is deleted.
type pageItem struct {
	id, edit ulid.ULID
	deleted  bool
}

// historyPage returns the job that reads the messages of page, and the
// newest edit of each edited one, and answers r with them.
func (c *Core) historyPage(r *Request, page []pageItem, more bool) job {
	return func(push func([]byte) bool) bool {
		f := Frame{Type: FrameHistory, Status: StatusOK, MessageID: r.MessageID, Chatname: r.Chatname,
			Recipient: r.Recipient, Messages: make([]HistoryMessage, 0, len(page)), More: more}
		ids := make([]ulid.ULID, 0, len(page))
		for _, it := range page {
			ids = append(ids, it.id)
		}
		for _, it := range page {
			if it.edit != (ulid.ULID{}) && !it.deleted {
				ids = append(ids, it.edit)
			}
		}
		events := make([]projection.Event, 0, len(ids))
		err := c.Log.Get(ids, func(rec eventlog.Record) error {
			e, err := projection.Decode(rec.ID, rec.Data)
			events = append(events, e)
			return err
		})
		if err != nil {
			c.Logger.Error("read history", "err", err)
			return push(c.Encode(errorFrame(r, ErrStorage)))
		}
		edits := events[len(page):]
		for i, it := range page {
			f.Messages = append(f.Messages, historyMessage(events[i], it, &edits))
		}
		return push(c.Encode(f))
	}
}

// historyMessage is message e of a page as history shows it: its newest
// content, taken from the front of edits if it was edited, or none.
func historyMessage(e projection.Event, it pageItem, edits *[]projection.Event) HistoryMessage {
	m := HistoryMessage{ID: e.ID, Sender: e.Actor, Content: content(e), Time: e.Time(), Random: isRandom(e)}
	switch {
	case it.deleted:
		m.Content, m.Random, m.Deleted = "", false, true
	case it.edit != (ulid.ULID{}):
		if p, ok := (*edits)[0].Payload.(projection.MessageEdited); ok {
			m.Content, m.Edited = p.Content, true
		}
		*edits = (*edits)[1:]
	}
	return m
}

// chatList answers a ChatListRequest from the projections.
func (q *sequencer) chatList(s *Session, r *Request) {
	f := Frame{Type: FrameChatList, Status: StatusOK, MessageID: r.MessageID, Chats: []ChatSummary{}}
	st := q.c.State
	for _, chat := range st.ChatsOf(s.user) {
		f.Chats = append(f.Chats, ChatSummary{Chatname: chat.Name, Members: chat.Members, LastID: chat.LastID,
			Unread: st.Unread(s.user, chat.Name)})
	}
	f.Direct = []DirectSummary{}
	for _, d := range st.DirectsOf(s.user) {
		f.Direct = append(f.Direct, DirectSummary{Username: d.With, LastID: d.LastID, Unread: d.Unread})
	}
	q.answer(s, r, f)
}

// replayChunk is how many events a replay reads per read transaction.
const replayChunk = 256

// replay returns the job that sends user everything addressed to them
// with an id in (since, upto], in log order: messages (not their own, nor
// deleted ones), changes of their conversations (not their own edits and
// deletions) and the moves of their read markers; then ReplayComplete
// with the number sent and the id of the newest event covered (their own
// ones included, which are not sent), or null. Later events reach the
// client live, held back until the job is done.
func (c *Core) replay(user string, r *Request, upto ulid.ULID) job {
	return func(push func([]byte) bool) bool {
		var ids []ulid.ULID
		c.View(func(st *projection.State) {
			lists := append(st.Inbox(user), st.Changes(user)...)
			for i, l := range lists {
				lists[i] = projection.Range(l, r.Since, upto)
			}
			ids = projection.SortedConcat(lists) // a copy: safe after the lock
		})
		count, last := 0, ulid.ULID{}
		for len(ids) > 0 {
			chunk := ids[:min(replayChunk, len(ids))]
			ids = ids[len(chunk):]
			frames, err := c.replayFrames(user, chunk)
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

// replayFrames reads the events of ids and returns the frames of those
// that user is sent in a replay.
func (c *Core) replayFrames(user string, ids []ulid.ULID) ([][]byte, error) {
	events := make([]projection.Event, 0, len(ids))
	err := c.Log.Get(ids, func(rec eventlog.Record) error {
		e, err := projection.Decode(rec.ID, rec.Data)
		if err == nil && (e.Actor != user || isMarker(e)) {
			events = append(events, e)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	var frames []Frame
	c.View(func(st *projection.State) {
		for _, e := range events {
			if gone(st, e) {
				continue
			}
			if f, ok := deliveryOf(st, e, true); ok {
				frames = append(frames, f)
			}
		}
	})
	out := make([][]byte, len(frames))
	for i, f := range frames {
		out[i] = c.Encode(f)
	}
	return out, nil
}

func isMarker(e projection.Event) bool {
	_, ok := e.Payload.(projection.ReadMarkerMoved)
	return ok
}

// gone reports whether e is a deleted message, or an edit of one: a
// replay shows neither (the deletion tells of it).
func gone(st *projection.State, e projection.Event) bool {
	var id ulid.ULID
	switch p := e.Payload.(type) {
	case projection.ChatCreated, projection.GroupMessagePosted, projection.DirectMessageSent:
		id = e.ID
	case projection.MessageEdited:
		id = p.Message
	default:
		return false
	}
	m, ok := st.Message(id)
	return ok && m.Deleted != (ulid.ULID{})
}

// reanswer returns the job that answers r, a retry, as the request that
// stored event id was answered. Receipts match by hash, so it checks that
// the event is user's and carries r's messageID.
func (c *Core) reanswer(user string, r *Request, id ulid.ULID) job {
	return func(push func([]byte) bool) bool {
		var e projection.Event
		err := c.Log.Get([]ulid.ULID{id}, func(rec eventlog.Record) error {
			var err error
			if e, err = projection.Decode(rec.ID, rec.Data); err != nil {
				return err
			}
			if e.Actor != user || e.RequestID != string(r.MessageID) {
				return fmt.Errorf("receipt %s is %s's %s, not %s's %s", id, e.Actor, e.RequestID, user, r.MessageID)
			}
			return nil
		})
		if err != nil {
			c.Logger.Error("answer a retry", "user", user, "err", err)
			return push(c.Encode(errorFrame(r, fmt.Errorf("%w: %w", ErrStorage, err))))
		}
		var f Frame
		c.View(func(st *projection.State) { f = ackOf(st, r, e) })
		return push(c.Encode(f))
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
