// Package broadcast sends short-lived notices to every Chateau node of a
// cluster over core NATS: published on a subject, received by every node
// subscribed to it, stored nowhere. A notice a node misses (it was cut off,
// or too slow to take it) is lost, which is what a notice like "ann is
// typing" wants: it means nothing a few seconds later.
//
// The package knows NATS and bytes; it knows nothing of chat.
package broadcast

import (
	"bytes"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/nats-io/nats.go"
	"github.com/oklog/ulid/v2"
)

// Buffered is how many received notices wait for Received's reader;
// beyond it, new ones are dropped and counted (Dropped).
const Buffered = 256

// Broadcast is one node's end of a subject. It is safe for concurrent use.
// It lives until Close, which must be called before the nats.Conn, which
// stays the caller's, is closed.
type Broadcast struct {
	nc      *nats.Conn
	subject string
	origin  []byte // this node's prefix, so that its own notices are skipped
	sub     *nats.Subscription
	in      chan []byte
	dropped atomic.Int64
}

// ErrSubject means the subject is not one NATS accepts for a publish.
var ErrSubject = errors.New("broadcast: invalid subject")

// Open subscribes to subject. Subjects of a JetStream stream would store
// every notice: use one outside them.
func Open(nc *nats.Conn, subject string) (*Broadcast, error) {
	if subject == "" || bytes.ContainsAny([]byte(subject), " \t\r\n*>") {
		return nil, fmt.Errorf("%w: %q", ErrSubject, subject)
	}
	b := &Broadcast{nc: nc, subject: subject, origin: []byte(ulid.Make().String() + " "), in: make(chan []byte, Buffered)}
	sub, err := nc.Subscribe(subject, b.receive)
	if err != nil {
		return nil, fmt.Errorf("broadcast: subscribe %s: %w", subject, err)
	}
	b.sub = sub
	return b, nil
}

// receive takes a notice from NATS's delivery goroutine.
func (b *Broadcast) receive(m *nats.Msg) {
	if bytes.HasPrefix(m.Data, b.origin) {
		return
	}
	i := bytes.IndexByte(m.Data, ' ')
	if i < 0 {
		return
	}
	select {
	case b.in <- m.Data[i+1:]:
	default:
		b.dropped.Add(1)
	}
}

// Publish sends data to the other nodes without waiting for them; an
// error of the connection loses it, as a notice may be.
func (b *Broadcast) Publish(data []byte) {
	_ = b.nc.Publish(b.subject, append(append([]byte(nil), b.origin...), data...))
}

// Received delivers the notices of the other nodes, in the order this node
// received them. It is never closed.
func (b *Broadcast) Received() <-chan []byte { return b.in }

// Dropped is how many notices arrived while Buffered others were waiting.
func (b *Broadcast) Dropped() int64 { return b.dropped.Load() }

// Close unsubscribes.
func (b *Broadcast) Close() error { return b.sub.Unsubscribe() }
