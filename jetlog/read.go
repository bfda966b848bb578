package jetlog

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/chateau/chateau/eventlog"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/oklog/ulid/v2"
)

const (
	// scanTries is how often in a row a Scan's consumer may fail without
	// reading anything (pausing 0.1, 0.2, 0.4... s between) before Scan
	// gives up; the tail never does.
	scanTries = 8
	// keepBuffer is the most records' room the buffer keeps once Read has
	// emptied it; a larger one, grown by a catch-up, is let go.
	keepBuffer = 4096
)

// errScanned stops a Scan's consumer at the last record Scan was to read.
var errScanned = errors.New("scan reached its end")

// Read takes from the tail's buffer up to max records with ids greater
// than after, in log order, and drops the buffered records with ids up to
// after. It returns nil when there are none (or max < 1). The records are
// the caller's, Data included.
//
// Read has a single consumer, the node's sequencer: only one goroutine may
// call it. That goroutine waits on Ready and calls Read until it returns
// nothing.
func (l *Log) Read(after ulid.ULID, max int) []eventlog.Record {
	l.mu.Lock()
	defer l.mu.Unlock()
	for l.head < len(l.buf) && l.buf[l.head].ID.Compare(after) <= 0 {
		l.buf[l.head] = eventlog.Record{}
		l.head++
	}
	n := min(max, len(l.buf)-l.head)
	var out []eventlog.Record
	if n > 0 {
		out = slices.Clone(l.buf[l.head : l.head+n])
		clear(l.buf[l.head : l.head+n])
		l.head += n
	}
	l.compactLocked()
	return out
}

// compactLocked lets go of the buffer's taken records once they are half
// of it, or of a large emptied buffer. l.mu must be held.
func (l *Log) compactLocked() {
	switch {
	case l.head == len(l.buf) && cap(l.buf) > keepBuffer:
		l.buf, l.head = nil, 0
	case l.head == len(l.buf):
		l.buf, l.head = l.buf[:0], 0
	case l.head > len(l.buf)/2:
		n := copy(l.buf, l.buf[l.head:])
		clear(l.buf[n:])
		l.buf, l.head = l.buf[:n], 0
	}
}

// Sync asks the stream's leader for the stream's last sequence and waits
// until the tail has read it. When Sync returns nil, Read holds (or has
// returned) every record committed before Sync was called, by any node:
// a node syncs before it says that something does not exist.
func (l *Log) Sync(ctx context.Context) error {
	if l.isClosed() {
		return eventlog.ErrClosed
	}
	info, err := l.stream.Info(ctx)
	if err != nil {
		return fmt.Errorf("sync: stream info: %w", err)
	}
	if err := l.waitRead(ctx, info.State.LastSeq); err != nil {
		return fmt.Errorf("sync: %w", err)
	}
	return nil
}

// Scan calls fn for each record with an id greater than after (the zero
// ULID scans from the start), in log order, up to the last record the
// tail had read when Scan was called. It reads the stream with a consumer
// of its own, from the first record's sequence, as the tail does; a
// consumer that fails is replaced, up to a few times in a row. rec.Data
// is the caller's. An error from fn stops the scan and is returned; so
// does Close, as eventlog.ErrClosed.
func (l *Log) Scan(after ulid.ULID, fn func(rec eventlog.Record) error) error {
	if l.isClosed() {
		return eventlog.ErrClosed
	}
	ids := l.index()
	i, found := slices.BinarySearchFunc(ids, after, ulid.ULID.Compare)
	if found {
		i++
	}
	if i == len(ids) {
		return nil
	}
	next := uint64(i) + 1
	var fnErr error
	handle := func(meta *jetstream.MsgMetadata, msg jetstream.Msg) error {
		if seq := meta.Sequence.Stream; seq != next {
			return fmt.Errorf("%w: sequence %d where %d was due", ErrStreamGap, seq, next)
		}
		if fnErr = fn(eventlog.Record{ID: ids[next-1], Data: msg.Data()}); fnErr != nil {
			return fnErr
		}
		if next == uint64(len(ids)) {
			return errScanned
		}
		next++
		return nil
	}
	final := func(err error) bool {
		return fnErr != nil || errors.Is(err, errScanned) || errors.Is(err, ErrStreamGap)
	}
	err := l.followOn(l.ctx, func() uint64 { return next }, handle, final, scanTries)
	switch {
	case fnErr != nil:
		return fnErr
	case errors.Is(err, errScanned):
		return nil
	case l.ctx.Err() != nil:
		return eventlog.ErrClosed
	}
	return fmt.Errorf("scan from sequence %d: %w", next, err)
}

// index returns the ids the tail has read, the id of sequence seq at
// seq-1. The caller may read it without the lock: the tail only ever
// appends past its end.
func (l *Log) index() []ulid.ULID {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ids[:len(l.ids):len(l.ids)]
}
