package jetlog

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/chateau/chateau/eventlog"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/oklog/ulid/v2"
)

const (
	// MaxBatch is the most entries one Publish may carry: the server's
	// default limit of messages in one atomic batch. Callers keep their
	// batches at or under it; Publish refuses larger ones with
	// ErrBatchTooLarge rather than split them, which would break their
	// all-or-none.
	MaxBatch = 1000
	// DedupWindow is how long the stream remembers an Entry's Dedup.
	DedupWindow = 2 * time.Minute
	// publishWait bounds Publish's wait for the server's answer and then
	// for the tail to read the batch.
	publishWait = 10 * time.Second
)

// Errors returned by Open.
var (
	// ErrWeakStream means the stream exists but cannot keep what Chateau
	// stores in it as promised: it lives in memory, has fewer replicas than
	// Options.Replicas, or does not allow atomic publish or direct get.
	ErrWeakStream = errors.New("the stream is weaker than Chateau needs")
)

// Errors returned by Publish, Sync and the calls that wait for the tail.
var (
	// ErrBatchTooLarge means Publish was given more than MaxBatch entries;
	// it stored nothing.
	ErrBatchTooLarge = errors.New("more entries than one atomic batch may carry")
	// ErrStreamGap means the tail found a sequence missing from the
	// stream: something deleted or purged messages, so the log's order and
	// ids can no longer be known. The tail stops for good.
	ErrStreamGap = errors.New("the stream lacks a sequence")
)

// Options configure Open. The zero value opens the stream "chateau" with
// one replica, creating it if it is missing.
type Options struct {
	// Stream is the stream's name; "" means "chateau". Its subjects are
	// "<Stream>.>".
	Stream string
	// Replicas is how many copies of the stream the servers keep; 0 means
	// 1. An existing stream with fewer is refused with ErrWeakStream.
	Replicas int
	// ReadOnly never creates the stream; Publish and Append return
	// eventlog.ErrReadOnly.
	ReadOnly bool
	// Now is the clock for proposed ids; nil means time.Now.
	Now func() time.Time
	// Logger receives the tail's troubles; nil discards them.
	Logger *slog.Logger
}

// Log is an event log in a JetStream stream, open on one node.
//
// Publish and Append calls are serialised; Scan, Get, Last and Sync are
// safe from any goroutine and run concurrently with Publish. Read has one
// consumer: the node's sequencer, which alone may call it. A Log must be
// closed with Close, which stops its tail; afterwards every method that
// returns an error returns eventlog.ErrClosed. The nats.Conn stays the
// caller's: Close does not close it.
type Log struct {
	nc       *nats.Conn
	js       jetstream.JetStream
	stream   jetstream.Stream
	name     string
	readOnly bool
	now      func() time.Time
	logger   *slog.Logger

	ctx      context.Context // canceled by Close: ends the tail, Scan and waits
	cancel   context.CancelFunc
	tailDone chan struct{} // closed when the tail's goroutine has returned

	linkMu     sync.Mutex      // guards linkCtx and linkCancel (link.go)
	linkCtx    context.Context // done once the connection drops
	linkCancel context.CancelFunc
	linkDone   chan struct{} // closed when the link's watch has returned

	pubMu    sync.Mutex // serialises Publish; guards proposed
	proposed ulid.ULID  // the last id this Log proposed

	ready chan struct{} // cap 1: the tail buffered records

	mu     sync.Mutex // guards what follows, written by the tail
	ids    []ulid.ULID
	buf    []eventlog.Record // records not yet taken by Read, from head
	head   int
	moved  chan struct{} // closed when ids grows or the log stops; nil until asked for
	err    error         // why the tail stopped for good
	closed bool
}

// Ready returns a channel that receives a value whenever the tail has
// buffered new records. It has room for one value, so a wake-up is never
// lost and never blocks the tail: on each, the consumer calls Read until
// it returns nothing.
func (l *Log) Ready() <-chan struct{} { return l.ready }

// Last returns the id of the last record the tail has read, or the zero
// ULID if it has read none.
func (l *Log) Last() ulid.ULID {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.ids) == 0 {
		return ulid.ULID{}
	}
	return l.ids[len(l.ids)-1]
}

// Close stops the tail and waits for it. Waiting Publish and Sync calls
// return eventlog.ErrClosed, a running Scan stops with it. Close does not
// close the nats.Conn; closing twice is no error.
func (l *Log) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	l.wakeLocked()
	l.mu.Unlock()
	l.cancel()
	<-l.tailDone
	<-l.linkDone
	return nil
}

// isClosed reports whether Close has been called.
func (l *Log) isClosed() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closed
}
