package presence

import (
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// loadNodes records the heartbeats stored when Open began to watch. They
// arrived now, but were sent earlier: each is dated back by how much
// older it is than the newest, this node's own heartbeat put just before.
// Only differences of the server's timestamps are used, never a
// comparison of the server's clock with this node's.
func (p *Presence) loadNodes(initial []jetstream.KeyValueEntry) {
	var newest time.Time
	for _, e := range initial {
		if e.Created().After(newest) {
			newest = e.Created()
		}
	}
	now := p.opt.Now()
	for _, e := range initial {
		p.applyNodeAt(e, now.Add(-newest.Sub(e.Created())))
	}
}

// applyNode records a heartbeat as it arrives, or a node's goodbye.
func (p *Presence) applyNode(e jetstream.KeyValueEntry) {
	p.applyNodeAt(e, p.opt.Now())
}

// applyNodeAt records that the node of e was alive at the given time, or,
// for a deleted key, that the node closed and is gone.
func (p *Presence) applyNodeAt(e jetstream.KeyValueEntry, at time.Time) {
	node, err := nameOf(e.Key())
	if err != nil {
		p.opt.Logger.Warn("presence: foreign key in nodes bucket", "key", e.Key())
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if e.Operation() != jetstream.KeyValuePut {
		delete(p.heard, node)
		return
	}
	if at.After(p.heard[node]) {
		p.heard[node] = at
	}
}

// loadClaims records the claims stored when Open began to watch.
func (p *Presence) loadClaims(initial []jetstream.KeyValueEntry) {
	for _, e := range initial {
		p.applyClaim(e)
	}
}

// applyClaim records a change of a claim. If the key was this node's and
// a newer revision names another node, or deletes a claim this node did
// not release, the name was taken from this node: it goes to Lost.
func (p *Presence) applyClaim(e jetstream.KeyValueEntry) {
	name, err := nameOf(e.Key())
	if err != nil {
		p.opt.Logger.Warn("presence: foreign key in claims bucket", "key", e.Key())
		return
	}
	c := claim{name: name, rev: e.Revision()}
	if e.Operation() == jetstream.KeyValuePut {
		c.node = string(e.Value())
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if c.rev < p.names[e.Key()].rev {
		return // hold recorded a later claim of this node's already
	}
	p.setNameLocked(e.Key(), c)
	if rev, ok := p.own[e.Key()]; ok && c.rev > rev {
		if c.node == p.opt.Node {
			p.own[e.Key()] = c.rev
		} else {
			p.loseLocked(e.Key(), name)
		}
	}
}

// aliveLocked says whether node was heard from within NodeTTL before this
// node last heard itself. Its own heartbeat, put every Heartbeat, is the
// watch's clock: while the watch delivers nothing (NATS is unreachable,
// or a restarted server lost the watch's consumer, which NATS's client
// recreates only after some seconds), that clock stops, and the view
// freezes rather than counting every other node dead. So a node is dead
// only if the stream went on for NodeTTL without it. p.mu must be held.
func (p *Presence) aliveLocked(node string) bool {
	at, ok := p.heard[node]
	return ok && p.heard[p.opt.Node].Sub(at) < p.opt.NodeTTL
}
