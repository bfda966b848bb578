package chat

import (
	"encoding/json"
	"time"
)

// Notices are what the core tells online users without storing anything:
// who comes online or goes offline (PresenceChanged), and who is typing
// (Typing). Neither costs a message anything: presence is looked at when
// someone signs in or out, typing when someone types.

// Broadcast carries notices that are not stored (typing) to the other
// nodes of a cluster (package broadcast); nil means this node is alone.
type Broadcast interface {
	// Publish sends data to the other nodes without waiting; it may be
	// lost.
	Publish(data []byte)
	// Received delivers what the other nodes published.
	Received() <-chan []byte
}

// typingEvery is how often one user's typing in one conversation is
// forwarded at most; the requests in between are dropped.
const typingEvery = 2 * time.Second

// maxTyped bounds the memory of who typed where when; beyond it, the
// entries older than typingEvery are forgotten.
const maxTyped = 4096

// typingNotice says who types where, as nodes tell each other.
type typingNotice struct {
	User      string `json:"user"`
	Chat      string `json:"chat,omitempty"`
	Recipient string `json:"recipient,omitempty"`
}

// typingOp carries a typing notice from another node.
type typingOp struct{ data []byte }

func (typingOp) session() *Session { return nil }

// presenceOp says the cluster's presence may have changed.
type presenceOp struct{}

func (presenceOp) session() *Session { return nil }

// typing decides a TypingRequest: it is answered only if it is refused;
// else the other members online, here and on the other nodes, are told,
// at most once per typingEvery for the user and the conversation.
func (q *sequencer) typing(s *Session, r *Request) {
	if r.Recipient == s.user {
		q.fail(s, r, Reasonf(ErrBadRequest, "you cannot type to yourself"))
		return
	}
	if _, ok := q.conversationLog(s, r); !ok {
		return
	}
	q.steps = append(q.steps, step{s: s, r: r, event: -1, status: StatusOK, silent: true})
	n := typingNotice{User: s.user, Chat: r.Chatname, Recipient: r.Recipient}
	now := q.c.Now()
	if last, ok := q.typed[n]; ok && now.Sub(last) < typingEvery {
		return
	}
	if len(q.typed) >= maxTyped {
		for k, at := range q.typed {
			if now.Sub(at) >= typingEvery {
				delete(q.typed, k)
			}
		}
	}
	q.typed[n] = now
	q.tellTyping(n)
	if q.c.Broadcast != nil {
		if b, err := json.Marshal(n); err == nil {
			q.c.Broadcast.Publish(b)
		}
	}
}

// tellTyping sends a Typing frame to the other members online here.
func (q *sequencer) tellTyping(n typingNotice) {
	f := Frame{Type: FrameTyping, Status: StatusOK, Chatname: n.Chat, Username: n.User}
	to := []string{n.Recipient}
	if n.Chat != "" {
		to = chatMembers(q.c.State, n.Chat)
	} else {
		f.Sender = n.User
	}
	q.notify(to, n.User, f)
}

// notify queues f for each of names online here but skip: as a step of
// the batch, or at once while the batch's steps are being sent (a user
// dropped as too slow goes offline then).
func (q *sequencer) notify(names []string, skip string, f Frame) {
	var b []byte
	for _, name := range names {
		if other := q.online[name]; other != nil && name != skip {
			if b == nil {
				b = q.c.Encode(f)
			}
			if q.flushing {
				q.send(other, b)
			} else {
				q.steps = append(q.steps, step{s: other, frame: b, event: -1})
			}
		}
	}
}

// foreignTyping tells the members online here of typing on another node.
func (q *sequencer) foreignTyping(data []byte) {
	var n typingNotice
	if err := json.Unmarshal(data, &n); err != nil || n.User == "" {
		q.c.Logger.Warn("a typing notice from another node is malformed", "err", err)
		return
	}
	q.tellTyping(n)
}

// isOnline reports whether name is online here or on another node.
func (q *sequencer) isOnline(name string) bool {
	return q.online[name] != nil || q.remote[name]
}

// announce tells the users online here who share a chat or a direct
// conversation with name that name came online or went offline.
func (q *sequencer) announce(name string, online bool) {
	q.notify(q.c.State.Contacts(name), name, Frame{Type: FramePresenceChanged, Status: StatusOK, Username: name, Online: online})
}

// refreshRemote takes in who is online on the other nodes, and announces
// those who came or went and are not online here.
func (q *sequencer) refreshRemote() {
	now := make(map[string]bool)
	for _, name := range q.c.Presence.Others() {
		now[name] = true
	}
	for name := range now {
		if !q.remote[name] && q.online[name] == nil {
			q.announce(name, true)
		}
	}
	for name := range q.remote {
		if !now[name] && q.online[name] == nil {
			q.announce(name, false)
		}
	}
	q.remote = now
}
