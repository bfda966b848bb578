package jetlog

import (
	"context"

	"github.com/nats-io/nats.go"
)

// The link is a context that lives as long as the connection to NATS is
// up: the status watch cancels it when the connection drops and makes a
// new one when it is back. A publish waits on it, so that an answer lost
// with the connection fails the publish at once rather than after
// publishWait, during which the node's sequencer would wait too.

// watchLink keeps l's link until l closes. It runs in its own goroutine.
func (l *Log) watchLink(statuses chan nats.Status) {
	defer close(l.linkDone)
	defer l.nc.RemoveStatusListener(statuses)
	for {
		select {
		case st := <-statuses:
			if st == nats.CONNECTED {
				l.renewLink()
			} else {
				l.cutLink()
			}
		case <-l.ctx.Done():
			l.cutLink()
			return
		}
	}
}

// link returns the context of the current connection: done once the
// connection drops or l closes.
func (l *Log) link() context.Context {
	l.linkMu.Lock()
	defer l.linkMu.Unlock()
	return l.linkCtx
}

// renewLink starts a new link for a connection that is up again.
func (l *Log) renewLink() {
	l.linkMu.Lock()
	defer l.linkMu.Unlock()
	if l.linkCtx.Err() != nil {
		l.linkCtx, l.linkCancel = context.WithCancel(l.ctx)
	}
}

// cutLink ends the current link.
func (l *Log) cutLink() {
	l.linkMu.Lock()
	defer l.linkMu.Unlock()
	l.linkCancel()
}

// startLink starts the link and its watch; Close waits for the watch.
func (l *Log) startLink() {
	l.linkCtx, l.linkCancel = context.WithCancel(l.ctx)
	if !l.nc.IsConnected() {
		l.linkCancel()
	}
	l.linkDone = make(chan struct{})
	go l.watchLink(l.nc.StatusChanged(nats.CONNECTED, nats.DISCONNECTED, nats.RECONNECTING, nats.CLOSED))
}
