package chat

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/chateau/chateau/eventlog"
	"github.com/chateau/chateau/projection"
	"github.com/oklog/ulid/v2"
)

// SharedLog is a Log that other Chateau nodes append to as well: a stream
// in a replicated engine (package jetlog). A core on a SharedLog is one
// node of a cluster: it decides against its projection, lets the log
// check what a node's memory cannot decide (a new name, a retried
// request), and applies and delivers every record, its own and other
// nodes' alike, in the order the log holds them.
type SharedLog interface {
	Log
	// Publish stores entries in one atomic append and returns their ids,
	// once Read holds them and every record before them. It fails with
	// eventlog.ErrConflict, storing nothing, if an entry's Key or Dedup
	// is already in the log.
	Publish(entries []eventlog.Entry) ([]ulid.ULID, error)
	// Read returns up to max records after the given id, in log order,
	// from those the log has received; it does not wait.
	Read(after ulid.ULID, max int) []eventlog.Record
	// Ready gets a value when Read has new records.
	Ready() <-chan struct{}
	// Sync returns once Read holds every record that the log had stored
	// when Sync was called.
	Sync(ctx context.Context) error
	// Last is the id of the newest record Read holds or has returned.
	Last() ulid.ULID
}

// Presence tells every node of a cluster who is online on which node
// (package presence). A user is online on one node at a time.
type Presence interface {
	// Claim puts name online on this node. It reports false if name is
	// online on another node, unless takeover: then that node loses it.
	Claim(name string, takeover bool) (bool, error)
	// Release takes name offline if this node holds it; it does not block.
	Release(name string)
	// Others returns the names online on the other nodes.
	Others() []string
	// Lost delivers the names another node took over from this one.
	Lost() <-chan string
	// Changed gets a value when Others may have changed because of a
	// claim or a release; a node's death changes it without one.
	Changed() <-chan struct{}
}

// presenceRefresh is how often a node looks at Others without a Changed,
// to see the users of dead nodes go offline.
const presenceRefresh = time.Second

// syncWait bounds a Sync of the shared log, after which the request that
// asked for it is answered 500.
const syncWait = 5 * time.Second

// A batch the log refused for a conflict is checked again and
// republished, at most maxConflictRounds times; its requests are then
// answered 500. While the conflicting entry is not readable yet (another
// node's entry in flight), the node waits conflictBackoff, doubled each
// round: a quarter of a second in all.
const (
	maxConflictRounds = 8
	conflictBackoff   = time.Millisecond
)

// Rebuild's shared counterpart: every record the log holds, read through
// Read after a Sync, so the log's tail needs no second pass.
func rebuildShared(l SharedLog, st *projection.State, progress func(int)) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := l.Sync(ctx); err != nil {
		return err
	}
	n := 0
	for {
		recs := l.Read(st.Last(), 4096)
		if len(recs) == 0 {
			return nil
		}
		for _, rec := range recs {
			if err := st.ApplyEncoded(rec.ID, rec.Data); err != nil {
				return err
			}
			if n++; progress != nil && n%100_000 == 0 {
				progress(n)
			}
		}
	}
}

// entry is event e of the batch as the shared log checks it: a user or
// chat name is claimed once, and a request with a messageID is stored
// once, whichever node it reaches.
func entry(e projection.Event, data []byte) eventlog.Entry {
	en := eventlog.Entry{Data: data}
	switch p := e.Payload.(type) {
	case projection.UserRegistered:
		en.Key = "user/" + p.Username
	case projection.ChatCreated:
		en.Key = "chat/" + p.Chat
	}
	if e.RequestID != "" {
		sum := sha256.Sum256([]byte(e.Actor + "\x00" + e.RequestID))
		en.Dedup = hex.EncodeToString(sum[:16])
	}
	return en
}

// stateDependent reports whether err refuses a request for something the
// node's projection lacks (404, 403), which may be there on another node.
func stateDependent(err error) bool {
	return errors.Is(err, ErrNotFound) || errors.Is(err, ErrForbidden)
}

// unsure reports whether a 404 or 403 for r must wait for a Sync: on a
// shared log, when r arrived after the last Sync began, and so may ask
// about something another node stored since.
func (q *sequencer) unsure(r *Request) bool {
	return q.shared != nil && r != nil && q.next == nil && r.Received.After(q.syncedAt)
}

// sync waits until the node has read everything the shared log held, and
// applies and delivers it.
func (q *sequencer) sync() error {
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), syncWait)
	defer cancel()
	if err := q.shared.Sync(ctx); err != nil {
		q.c.Logger.Error("sync with the cluster's log", "err", err)
		return err
	}
	q.syncedAt = start
	q.catchUp(ulid.ULID{})
	return nil
}

// catchUp applies and delivers the records of other nodes that the shared
// log holds, in its order, up to (not including) id upto, or all of them
// if upto is zero. Records from upto on wait in later; records this node
// has applied already (its own) are skipped.
func (q *sequencer) catchUp(upto ulid.ULID) {
	for {
		recs := q.later
		q.later = nil
		if len(recs) == 0 {
			recs = q.shared.Read(q.c.State.Last(), q.c.MaxBatch)
		}
		if len(recs) == 0 {
			return
		}
		for i, rec := range recs {
			if upto != (ulid.ULID{}) && rec.ID.Compare(upto) >= 0 {
				q.later = recs[i:]
				q.c.tellApplied()
				return
			}
			q.applyForeign(rec)
		}
		q.c.tellApplied()
	}
}

// applyForeign applies a record of the shared log and delivers it to the
// members online here, unless the node has it already.
func (q *sequencer) applyForeign(rec eventlog.Record) {
	if rec.ID.Compare(q.c.State.Last()) <= 0 {
		return
	}
	e, err := projection.Decode(rec.ID, rec.Data)
	q.c.stateMu.Lock()
	if err == nil {
		err = q.c.State.Apply(e)
	}
	if err != nil {
		// Another node stored it, so it passed that node's checks: a
		// newer format or a bug. Skipping it keeps this node serving,
		// and reading on from after it.
		q.c.State.Skip(rec.ID)
	}
	q.c.stateMu.Unlock()
	if err != nil {
		q.c.Logger.Error("apply a record of the cluster's log", "id", rec.ID, "err", err)
		return
	}
	q.fanOut(e)
}

// publish stores the batch's events in the shared log. If the log refuses
// them for a conflict, the node reads what it lacked, answers the events
// that conflict (a name taken: 302; a request stored before: its original
// answer) and publishes the rest again.
func (q *sequencer) publish() ([]ulid.ULID, error) {
	q.dropped = make([]bool, len(q.events))
	for round := 0; ; round++ {
		entries := make([]eventlog.Entry, 0, len(q.events))
		for i, e := range q.events {
			if !q.dropped[i] {
				entries = append(entries, entry(e, q.data[i]))
			}
		}
		if len(entries) == 0 {
			return nil, nil
		}
		ids, err := q.shared.Publish(entries)
		if err == nil {
			q.catchUp(ids[0])
			return ids, nil
		}
		if !errors.Is(err, eventlog.ErrConflict) || round == maxConflictRounds {
			return nil, err
		}
		var dup *eventlog.DuplicateError
		if errors.As(err, &dup) {
			// One entry, a request stored before: answered from the
			// record, even if the receipt is no longer remembered.
			q.answerDuplicate(dup.ID)
			continue
		}
		// The log refused the batch for an entry another node stored.
		// That entry may not be readable yet (a cluster checks the
		// entries it has accepted, before they are committed): what
		// Sync does not show yet is refused again next round.
		if err := q.sync(); err != nil {
			return nil, err
		}
		if !q.dropConflicts() {
			// Jitter, so that two nodes refusing each other's entries
			// do not retry in step.
			time.Sleep(conflictBackoff<<round + rand.N(conflictBackoff<<round))
		}
	}
}

// dropConflicts takes out of the batch the events that the state, now
// caught up, shows conflicting, and answers their requests; it reports
// whether it found any.
func (q *sequencer) dropConflicts() bool {
	found := false
	for i := range q.steps {
		st := &q.steps[i]
		if st.event < 0 {
			continue
		}
		e := q.events[st.event]
		if err := q.conflict(e); err != nil {
			q.unclaim(e)
			q.dropped[st.event], found = true, true
			st.event, st.frame, st.status = -1, q.c.Encode(errorFrame(st.r, err)), StatusOf(err)
		} else if id, ok := q.c.State.Receipt(e.Actor, e.RequestID); ok && e.RequestID != "" {
			q.dropped[st.event], found = true, true
			st.event, st.job = -1, q.c.reanswer(e.Actor, st.r, id)
		}
	}
	return found
}

// answerDuplicate answers the one event of the batch still to publish, a
// request the log holds as id, from that record: its request and any
// repeat of it in the batch.
func (q *sequencer) answerDuplicate(id ulid.ULID) {
	live := slices.Index(q.dropped, false)
	if live < 0 {
		return
	}
	q.dropped[live] = true
	e := q.events[live]
	for i := range q.steps {
		if st := &q.steps[i]; st.event == live {
			st.event, st.retry, st.job = -1, false, q.c.reanswer(e.Actor, st.r, id)
		}
	}
}

// conflict returns the 302 of an event whose name another node claimed.
func (q *sequencer) conflict(e projection.Event) error {
	switch p := e.Payload.(type) {
	case projection.UserRegistered:
		if u, ok := q.c.State.User(p.Username); ok && u.Protected() {
			return Reasonf(ErrUnauthorized, unauthorized)
		} else if ok {
			return Reasonf(ErrConflict, "%q was registered on another connection a moment ago", p.Username)
		}
	case projection.ChatCreated:
		if _, ok := q.c.State.Chat(p.Chat); ok {
			return Reasonf(ErrConflict, "chat %q already exists", p.Chat)
		}
	}
	return nil
}

// freshState waits until the state holds every record that the shared log
// had stored when it was called: a Sync, then the sequencer's catch-up. A
// connection's reader calls it before it decides that a name is new, so
// that a name registered a moment ago on another node is not hashed as a
// new one here. On a log of one node it returns at once.
func (c *Core) freshState() error {
	if c.shared == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), syncWait)
	defer cancel()
	if err := c.shared.Sync(ctx); err != nil {
		return err
	}
	target := c.shared.Last()
	for {
		c.appliedMu.Lock()
		applied := c.applied
		c.appliedMu.Unlock()
		var last ulid.ULID
		c.View(func(st *projection.State) { last = st.Last() })
		if last.Compare(target) >= 0 {
			return nil
		}
		select {
		case <-applied:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// tellApplied wakes the readers waiting in freshState, after the
// sequencer applied records of the shared log.
func (c *Core) tellApplied() {
	c.appliedMu.Lock()
	close(c.applied)
	c.applied = make(chan struct{})
	c.appliedMu.Unlock()
}
