package chat

// Answers that read the log (a history page, a replay of missed messages)
// are detached: the sequencer decides them, then a goroutine of the
// session's own reads the events and queues the frames, so that the
// sequencer never holds a read transaction or waits on a slow reader.
// While a session has detached work, the sequencer holds its other frames
// back (held) and hands them over in order afterwards: a connection's
// frames keep the order of its requests.

// job queues the frames of a detached answer with push, which blocks while
// the connection's queue is full and reports false once the connection is
// closing. The job returns false to stop.
type job func(push func([]byte) bool) bool

// held is a frame, or a detached answer, queued behind a detached answer.
type held struct {
	frame []byte
	job   job
}

// handoffOp asks the sequencer for what it held back for s; an empty reply
// means there is nothing left and s's frames flow directly again.
type handoffOp struct {
	s     *Session
	reply chan []held
}

func (o handoffOp) session() *Session { return o.s }

// send sends b to s, behind s's detached work if it has any.
func (q *sequencer) send(s *Session, b []byte) {
	if s.detached {
		if len(s.held) >= s.conn.MaxHeld {
			s.peer.Close(CloseTooSlow)
			q.dropSlow(s)
			return
		}
		s.held = append(s.held, held{frame: b})
		return
	}
	if !s.peer.Send(b) {
		q.dropSlow(s)
		return
	}
	if !s.queued {
		s.queued = true
		q.queued = append(q.queued, s)
	}
}

// wake flushes the peers that frames were sent to in this batch.
func (q *sequencer) wake() {
	for i, s := range q.queued {
		s.queued = false
		s.peer.Flush()
		q.queued[i] = nil
	}
	q.queued = q.queued[:0]
}

// detach runs j for s after s's frames sent so far.
func (q *sequencer) detach(s *Session, j job) {
	if s.detached {
		s.held = append(s.held, held{job: j})
		return
	}
	s.detached = true
	q.c.jobs.Add(1)
	go q.c.runDetached(s, j)
}

// handoff answers a detached goroutine's handoffOp.
func (q *sequencer) handoff(o handoffOp) {
	items := o.s.held
	o.s.held = nil
	if len(items) == 0 {
		o.s.detached = false
	}
	o.reply <- items
}

// runDetached runs j, then whatever the sequencer held back meanwhile, until
// nothing is left or the connection closes.
func (c *Core) runDetached(s *Session, j job) {
	defer c.jobs.Done()
	items := []held{{job: j}}
	for len(items) > 0 {
		for _, it := range items {
			if it.job != nil && !it.job(s.peer.Push) || it.job == nil && !s.peer.Push(it.frame) {
				return
			}
		}
		reply := make(chan []held, 1)
		c.ops <- handoffOp{s: s, reply: reply}
		items = <-reply
	}
}
