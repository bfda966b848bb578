package presence

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// start says this node is alive, loads both buckets through their
// watches, and starts the goroutines that keep the view up to date, send
// heartbeats and releases, and deliver lost names. ctx bounds the start;
// the watches live until Close (a watch ends with the context it was
// started with).
func (p *Presence) start(ctx context.Context) error {
	p.watching, p.stopWatching = context.WithCancel(context.Background())
	detach := context.AfterFunc(ctx, p.stopWatching)
	if err := p.beat(ctx); err != nil {
		return fmt.Errorf("presence: first heartbeat: %w", err)
	}
	nw, err := p.watch(ctx, p.nodes, p.loadNodes)
	if err != nil {
		return fmt.Errorf("presence: watch %s: %w", p.nodes.Bucket(), err)
	}
	cw, err := p.watch(ctx, p.claims, p.loadClaims)
	if err != nil {
		return fmt.Errorf("presence: watch %s: %w", p.claims.Bucket(), err)
	}
	if !detach() {
		return fmt.Errorf("presence: open: %w", ctx.Err())
	}
	p.senders.Add(2)
	go p.heartbeatLoop()
	go p.releaseLoop()
	p.loops.Add(3)
	go p.follow(nw, p.applyNode)
	go p.follow(cw, p.applyClaim)
	go p.lostLoop()
	return nil
}

// watch starts a watch of every key of kv, which lives until Close, and
// hands load the entries it delivers before its end-of-initial-values
// marker (nil). ctx bounds the wait for them.
func (p *Presence) watch(ctx context.Context, kv jetstream.KeyValue, load func([]jetstream.KeyValueEntry)) (jetstream.KeyWatcher, error) {
	w, err := kv.WatchAll(p.watching)
	if err != nil {
		return nil, err
	}
	var initial []jetstream.KeyValueEntry
	for {
		select {
		case e, ok := <-w.Updates():
			if !ok {
				return nil, errors.New("watch ended while loading")
			}
			if e == nil {
				load(initial)
				return w, nil
			}
			initial = append(initial, e)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// follow applies each entry the watch delivers until the watch ends: at
// Close, or when the nats.Conn is closed. A watch survives reconnects;
// once it has ended, this node's view only ages: every other node's
// heartbeat gets older than NodeTTL, and Others lists nobody.
func (p *Presence) follow(w jetstream.KeyWatcher, apply func(jetstream.KeyValueEntry)) {
	defer p.loops.Done()
	for e := range w.Updates() {
		if e != nil {
			apply(e)
		}
	}
	if !p.isClosed() {
		p.opt.Logger.Error("presence: watch ended before Close (NATS connection closed?); this node no longer sees who is online", "node", p.opt.Node)
	}
}

// stopWatchers ends the watches by cancelling their context: the
// subscriptions end at once, which ends the follow goroutines, and NATS's
// own goroutine then deletes the consumers, bounded by its request
// timeout, without holding up Close (KeyWatcher.Stop would wait for that).
func (p *Presence) stopWatchers() {
	p.stopWatching()
}

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
	p.names[e.Key()] = c
	if rev, ok := p.own[e.Key()]; ok && c.rev > rev {
		if c.node == p.opt.Node {
			p.own[e.Key()] = c.rev
		} else {
			p.loseLocked(e.Key(), name)
		}
	}
}

// aliveLocked says whether node was heard from within NodeTTL of now.
// p.mu must be held.
func (p *Presence) aliveLocked(node string, now time.Time) bool {
	at, ok := p.heard[node]
	return ok && now.Sub(at) < p.opt.NodeTTL
}
