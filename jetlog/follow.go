package jetlog

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

const (
	// pullMessages is how many messages a consumer asks the server for
	// at once: a catch-up over millions of records wants few round trips.
	pullMessages = 4096
	// pullHeartbeat is how often the server says a pull is alive while it
	// has nothing to send; two missed make the reader start again, so a
	// stalled consumer (a lost pull request, a server that restarted with
	// the consumer in memory) costs seconds, not the library's default.
	pullHeartbeat = time.Second
	// pullExpiry is how long one pull request lasts on the server.
	pullExpiry = 10 * time.Second
	// consumerIdle is how long the server keeps a consumer nobody pulls
	// from: one whose node died, or that was not deleted at its end.
	consumerIdle = time.Minute
	// deleteWait bounds the deletion of a consumer that is done.
	deleteWait = 2 * time.Second
	// retryFirst and retryMax bound the pause before following the
	// stream again after a consumer failed: doubling from the first to
	// the most, and back to the first once a consumer read something.
	retryFirst = 100 * time.Millisecond
	retryMax   = 5 * time.Second
)

// errLost means a consumer's delivery skipped a message: the stream still
// holds it, and a new consumer will read it.
var errLost = errors.New("the consumer lost a message")

// errReconnected means the connection was lost and came back while a
// consumer was reading.
var errReconnected = errors.New("the connection to NATS came back")

// follow reads the stream from sequence start, in order, with an
// ephemeral consumer of its own, and hands each message to fn, until fn
// returns an error, ctx ends or the consumer fails; it returns why and
// deletes the consumer. A consumer that skips a delivery, misses the
// server's heartbeats or loses its pull across a reconnect fails, so that
// the caller can start again where fn stopped.
func (l *Log) follow(ctx context.Context, start uint64, fn func(*jetstream.MsgMetadata, jetstream.Msg) error) error {
	cons, err := l.stream.CreateConsumer(ctx, jetstream.ConsumerConfig{
		DeliverPolicy:     jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:       start,
		AckPolicy:         jetstream.AckNonePolicy,
		InactiveThreshold: consumerIdle,
		Replicas:          1,
		MemoryStorage:     true,
	})
	if err != nil {
		return fmt.Errorf("consumer from sequence %d: %w", start, err)
	}
	defer l.deleteConsumer(cons)
	it, err := cons.Messages(jetstream.PullMaxMessages(pullMessages),
		jetstream.PullExpiry(pullExpiry), jetstream.PullHeartbeat(pullHeartbeat),
		jetstream.WithMessagesErrOnMissingHeartbeat(true))
	if err != nil {
		return fmt.Errorf("consumer from sequence %d: %w", start, err)
	}
	defer it.Stop()
	defer context.AfterFunc(ctx, it.Stop)()
	reconnected, unwatch := l.stopOnReconnect(it)
	defer unwatch()
	for delivered := uint64(1); ; delivered++ {
		msg, err := it.Next()
		switch {
		case err == nil:
		case ctx.Err() != nil:
			return ctx.Err()
		case reconnected.Load():
			return errReconnected
		default:
			return fmt.Errorf("read the stream: %w", err)
		}
		meta, err := msg.Metadata()
		if err != nil {
			return fmt.Errorf("message metadata: %w", err)
		}
		if meta.Sequence.Consumer != delivered {
			return fmt.Errorf("%w: delivery %d where %d was due", errLost, meta.Sequence.Consumer, delivered)
		}
		if err := fn(meta, msg); err != nil {
			return err
		}
	}
}

// followOn calls follow from the sequence next returns, again after each
// failure, pausing between tries, until follow returns an error for which
// final is true, ctx ends, or follow has failed tries times in a row
// without reading anything (tries 0: no bound). It returns the last error.
func (l *Log) followOn(ctx context.Context, next func() uint64, fn func(*jetstream.MsgMetadata, jetstream.Msg) error, final func(error) bool, tries int) error {
	pause := retryFirst
	for failed := 1; ; failed++ {
		start := next()
		err := l.follow(ctx, start, fn)
		if ctx.Err() != nil || final(err) {
			return err
		}
		if next() != start {
			pause, failed = retryFirst, 0
		}
		if tries > 0 && failed >= tries {
			return err
		}
		l.logger.Warn("jetlog: following the stream again", keySeq, next(), keyErr, err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(pause):
		}
		pause = min(2*pause, retryMax)
	}
}

// stopOnReconnect stops it when the connection comes back after it was
// lost: the pull request stayed with the server that was lost, and the
// consumer too if that server restarted. A new consumer is cheaper than
// waiting for missed heartbeats to tell. reconnected is true once that
// happened (before it stopped); unwatch ends the watch.
func (l *Log) stopOnReconnect(it jetstream.MessagesContext) (reconnected *atomic.Bool, unwatch func()) {
	ch := l.nc.StatusChanged(nats.CONNECTED)
	reconnected = new(atomic.Bool)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if _, ok := <-ch; ok {
			reconnected.Store(true)
			it.Stop()
		}
	}()
	return reconnected, func() {
		l.nc.RemoveStatusListener(ch)
		<-done
	}
}

// deleteConsumer deletes the server's side of a consumer that is done,
// rather than leave it to consumerIdle, if the connection is up.
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
