package wsapi

import "sync"

// outbox is a connection's queue of frames for its writer. Unlike a
// buffered channel it holds memory only for what is queued, so that an idle
// connection costs little however long the queue may grow, and the writer
// takes everything queued at once and sends it in one system call.
//
// push never blocks (the sequencer must not wait on one client) and fails
// only at the hard limit; pushWait blocks while the queue holds the soft
// limit, for a connection's own detached work. Any number of goroutines
// may push; one goroutine at a time, the writer, takes. The pusher wakes
// the writer (client.wake), the sequencer once per batch.
type outbox struct {
	soft  int           // pushWait waits while this many frames are queued
	hard  int           // push fails with this many queued
	space chan struct{} // holds a token after the writer took frames

	mu     sync.Mutex
	frames [][]byte
}

func newOutbox(soft, hard int) *outbox {
	return &outbox{soft: soft, hard: hard, space: make(chan struct{}, 1)}
}

// push queues b below the hard limit and reports whether it did, and how
// many frames are queued with b.
func (o *outbox) push(b []byte) (queued int, ok bool) {
	return o.pushBelow(b, o.hard)
}

func (o *outbox) pushBelow(b []byte, limit int) (queued int, ok bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.frames) >= limit {
		return len(o.frames), false
	}
	o.frames = append(o.frames, b)
	return len(o.frames), true
}

// pushWait queues b once fewer than the soft limit of frames are queued,
// and reports false if done is closed first. wake is called after b is
// queued.
func (o *outbox) pushWait(b []byte, done <-chan struct{}, wake func()) bool {
	for _, ok := o.pushBelow(b, o.soft); !ok; _, ok = o.pushBelow(b, o.soft) {
		select {
		case <-o.space:
		case <-done:
			return false
		}
	}
	wake()
	return true
}

// take returns every queued frame, in order, reusing spare's array for the
// queue to come. The caller must not keep the frames past its next take.
func (o *outbox) take(spare [][]byte) [][]byte {
	clear(spare)
	if cap(spare) > maxSpare {
		spare = nil // a burst is over: let its array go
	}
	o.mu.Lock()
	frames := o.frames
	o.frames = spare[:0]
	o.mu.Unlock()
	select {
	case o.space <- struct{}{}:
	default:
	}
	return frames
}

// maxSpare is the largest queue array take keeps for reuse: enough for
// the frames of a busy batch, while a burst's array goes back to the
// garbage collector rather than stay with an idle connection.
const maxSpare = 256

// len returns the number of queued frames.
func (o *outbox) len() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.frames)
}
