package jetlog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/chateau/chateau/eventlog"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/oklog/ulid/v2"
)

// Log attribute keys.
const (
	keyStream = "stream"
	keyErr    = "err"
)

const (
	// tailRetry is the pause before the tail follows the stream again
	// after its consumer gave up (the ordered consumer itself recovers
	// from reconnects and missed heartbeats without it).
	tailRetry = time.Second
	// pullMessages is how many messages a consumer asks the server for
	// at once: a catch-up over millions of records wants few round trips.
	pullMessages = 4096
	// consumerIdle is how long the server keeps a consumer nobody pulls
	// from: one whose node died, or that was not deleted at its end.
	consumerIdle = time.Minute
	// deleteWait bounds the deletion of a consumer that is done.
	deleteWait = 2 * time.Second
)

// runTail follows the stream for the Log's lifetime, from the sequence
// after the last it has read, until Close or until the stream proves
// broken.
func (l *Log) runTail() {
	defer close(l.tailDone)
	for {
		err := l.follow(l.ctx, jetstream.OrderedConsumerConfig{OptStartSeq: l.readSeq() + 1}, l.apply)
		if l.ctx.Err() != nil {
			return
		}
		if errors.Is(err, ErrStreamGap) || errors.Is(err, errNoIDs) {
			l.fail(err)
			return
		}
		l.logger.Warn("jetlog: the tail lost the stream; following it again", keyErr, err)
		select {
		case <-l.ctx.Done():
			return
		case <-time.After(tailRetry):
		}
	}
}

// follow reads the stream with an ordered consumer made from cfg, handing
// each message to fn, until fn returns an error, ctx ends or the consumer
// fails for good; it returns why, and deletes the consumer.
func (l *Log) follow(ctx context.Context, cfg jetstream.OrderedConsumerConfig, fn func(jetstream.Msg) error) error {
	cfg.DeliverPolicy = jetstream.DeliverByStartSequencePolicy
	cfg.InactiveThreshold = consumerIdle
	cons, err := l.stream.OrderedConsumer(ctx, cfg)
	if err != nil {
		return fmt.Errorf("ordered consumer from sequence %d: %w", cfg.OptStartSeq, err)
	}
	defer l.deleteConsumer(cons)
	it, err := cons.Messages(jetstream.PullMaxMessages(pullMessages))
	if err != nil {
		return fmt.Errorf("ordered consumer from sequence %d: %w", cfg.OptStartSeq, err)
	}
	defer it.Stop()
	defer context.AfterFunc(ctx, it.Stop)()
	for {
		msg, err := it.Next()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("read the stream: %w", err)
		}
		if err := fn(msg); err != nil {
			return err
		}
	}
}

// deleteConsumer deletes the server's side of an ordered consumer that is
// done, rather than leave it to consumerIdle, if the connection is up.
func (l *Log) deleteConsumer(cons jetstream.Consumer) {
	info := cons.CachedInfo()
	if info == nil || !l.nc.IsConnected() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), deleteWait)
	defer cancel()
	if err := l.js.DeleteConsumer(ctx, l.name, info.Name); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		l.logger.Debug("jetlog: delete a consumer", keyErr, err)
	}
}

// apply indexes and buffers one message the tail read. A sequence read
// before (a consumer starts again where the last one stopped) is skipped;
// one that skips a sequence is ErrStreamGap.
func (l *Log) apply(msg jetstream.Msg) error {
	meta, err := msg.Metadata()
	if err != nil {
		return fmt.Errorf("message metadata: %w", err)
	}
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
