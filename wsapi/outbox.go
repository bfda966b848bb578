package wsapi

import "sync"

// outbox is a connection's queue of frames for its writer. Unlike a
// buffered channel it holds memory only for what is queued, so that an idle
// connection costs little however long the queue may grow, and the writer
// takes everything queued at once and sends it in one system call.
//
// push never blocks (the sequencer must not wait on one client); pushWait
// blocks, for a connection's own detached work. Any number of goroutines
// may push; one goroutine at a time, the writer, takes. The pusher wakes
// the writer (client.wake).
type outbox struct {
	max   int           // frames queued at most
	space chan struct{} // holds a token after the writer took frames

	mu     sync.Mutex
	frames [][]byte
}

func newOutbox(max int) *outbox {
	return &outbox{max: max, space: make(chan struct{}, 1)}
}

// push queues b and reports whether there was room.
func (o *outbox) push(b []byte) bool {
	o.mu.Lock()
	if len(o.frames) >= o.max {
		o.mu.Unlock()
		return false
	}
	o.frames = append(o.frames, b)
	o.mu.Unlock()
	return true
}

// pushWait queues b, waiting for room, and reports false if done is closed
// first. wake is called after b is queued.
func (o *outbox) pushWait(b []byte, done <-chan struct{}, wake func()) bool {
	for !o.push(b) {
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
	if cap(spare) > 256 {
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

// len returns the number of queued frames.
func (o *outbox) len() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.frames)
}
