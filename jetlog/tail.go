package jetlog

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/chateau/chateau/eventlog"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/oklog/ulid/v2"
)

// Log attribute keys.
const (
	keyStream = "stream"
	keySeq    = "seq"
	keyErr    = "err"
)

// runTail follows the stream for the Log's lifetime, from the sequence
// after the last it has read, until Close or until the stream proves
// broken.
func (l *Log) runTail() {
	defer close(l.tailDone)
	final := func(err error) bool { return errors.Is(err, ErrStreamGap) || errors.Is(err, errNoIDs) }
	next := func() uint64 { return l.readSeq() + 1 }
	if err := l.followOn(l.ctx, next, l.apply, final, 0); l.ctx.Err() == nil {
		l.fail(err)
	}
}

// apply indexes and buffers one message the tail read. A sequence read
// before (a consumer starts again where the last one stopped) is skipped;
// one that skips a sequence is ErrStreamGap.
func (l *Log) apply(meta *jetstream.MsgMetadata, msg jetstream.Msg) error {
	seq := meta.Sequence.Stream
	proposal := proposalOf(msg.Headers().Get(idHeader), meta.Timestamp)
	rec := eventlog.Record{Data: bytes.Clone(msg.Data())}
	l.mu.Lock()
	n := uint64(len(l.ids))
	if seq <= n {
		l.mu.Unlock()
		return nil
	}
	if seq > n+1 {
		l.mu.Unlock()
		return fmt.Errorf("%w: sequence %d follows %d", ErrStreamGap, seq, n)
	}
	var prev ulid.ULID
	if n > 0 {
		prev = l.ids[n-1]
	}
	var err error
	if rec.ID, err = effectiveID(prev, proposal); err != nil {
		l.mu.Unlock()
		return fmt.Errorf("sequence %d: %w", seq, err)
	}
	l.ids = append(l.ids, rec.ID)
	l.buf = append(l.buf, rec)
	l.wakeLocked()
	l.mu.Unlock()
	select {
	case l.ready <- struct{}{}:
	default:
	}
	return nil
}

// fail stops the log's waits for good with err, which the tail cannot get
// past.
func (l *Log) fail(err error) {
	l.logger.Error("jetlog: the tail stopped for good", keyErr, err)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.err = err
	l.wakeLocked()
}

// wakeLocked wakes the waits for the tail. l.mu must be held.
func (l *Log) wakeLocked() {
	if l.moved != nil {
		close(l.moved)
		l.moved = nil
	}
}

// readSeq returns the last sequence the tail has read.
func (l *Log) readSeq() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return uint64(len(l.ids))
}

// waitRead waits until the tail has read sequence seq, the log is closed
// (eventlog.ErrClosed), the tail has stopped for good, or ctx ends.
func (l *Log) waitRead(ctx context.Context, seq uint64) error {
	for {
		l.mu.Lock()
		switch {
		case uint64(len(l.ids)) >= seq:
			l.mu.Unlock()
			return nil
		case l.closed:
			l.mu.Unlock()
			return eventlog.ErrClosed
		case l.err != nil:
			err := l.err
			l.mu.Unlock()
			return err
		}
		if l.moved == nil {
			l.moved = make(chan struct{})
		}
		moved := l.moved
		l.mu.Unlock()
		select {
		case <-moved:
		case <-ctx.Done():
			return fmt.Errorf("wait for the tail to read sequence %d: %w", seq, ctx.Err())
		}
	}
}
