package eventlog

// Appended returns a channel that is closed once an Append commits after
// this call, or once the log is closed (at once if it is closed already).
// Every caller between two commits gets the same channel: it is a
// broadcast, which costs a commit one short mutex and, only if somebody
// took the channel since the previous commit, one close.
//
// Take the channel before reading what the log holds, then wait on it: a
// commit after the call closes it, and a commit before the call is seen by
// any read that begins after it, so no commit goes unnoticed. Append never
// waits for those who wait on the channel, nor for what they do on waking.
func (l *Log) Appended() <-chan struct{} {
	l.appendedMu.Lock()
	defer l.appendedMu.Unlock()
	if l.appended == nil {
		l.appended = make(chan struct{})
	}
	return l.appended
}

// wakeWaiters closes the channel Appended handed out, if any; for the log's
// Close (final) it leaves a closed channel in its place for good.
func (l *Log) wakeWaiters(final bool) {
	l.appendedMu.Lock()
	defer l.appendedMu.Unlock()
	if l.appendedFinal {
		return
	}
	if l.appended != nil {
		close(l.appended)
		l.appended = nil
	}
	if final {
		l.appended = make(chan struct{})
		close(l.appended)
		l.appendedFinal = true
	}
}
