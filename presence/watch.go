package presence

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// watched is one of the two watches, of the nodes or the claims bucket.
type watched struct {
	kv    jetstream.KeyValue
	load  func([]jetstream.KeyValueEntry) // the values stored when it starts
	apply func(jetstream.KeyValueEntry)   // each change after them
	// rev is the last revision applied; guarded by Presence.mu.
	rev uint64
	// stop ends the current watcher. Only start and then heartbeatLoop
	// restart a watch, so it needs no lock.
	stop context.CancelFunc
}

// start says this node is alive, loads both buckets through their
// watches, and starts the goroutines that keep the view up to date, send
// heartbeats and releases, and deliver lost names. ctx bounds the start;
// the watches live until Close (a watch ends with the context it was
// started with).
func (p *Presence) start(ctx context.Context) error {
	p.watching, p.stopWatching = context.WithCancel(context.Background())
	p.closing, p.beginClosing = context.WithCancel(context.Background())
	first, err := p.beat(ctx)
	if err != nil {
		return fmt.Errorf("presence: first heartbeat: %w", err)
	}
	p.nodesW = &watched{kv: p.nodes, load: p.loadNodes, apply: p.applyNode}
	p.claimsW = &watched{kv: p.claims, load: p.loadClaims, apply: p.applyClaim}
	for _, w := range []*watched{p.nodesW, p.claimsW} {
		if err := p.watch(ctx, w, 0); err != nil {
			return err
		}
	}
	p.senders.Add(2)
	go p.heartbeatLoop(first)
	go p.releaseLoop()
	p.loops.Add(1)
	go p.lostLoop()
	return nil
}

// watch starts a watcher of w's bucket, from the start or after revision
// from, hands w.load the values it delivers before its end-of-initial-
// values marker (nil), then follows it in a goroutine and ends w's
// previous watcher, if any. ctx bounds the start; the watcher lives until
// Close or the next watch of w (a watcher ends with the context it was
// started with, which must not be ctx).
func (p *Presence) watch(ctx context.Context, w *watched, from uint64) error {
	wctx, stop := context.WithCancel(p.watching)
	detach := context.AfterFunc(ctx, stop)
	var opts []jetstream.WatchOpt
	if from > 0 {
		opts = append(opts, jetstream.ResumeFromRevision(from+1))
	}
	kw, err := w.kv.WatchAll(wctx, opts...)
	var initial []jetstream.KeyValueEntry
	if err == nil {
		initial, err = loadInitial(ctx, kw)
	}
	if err == nil && !detach() {
		err = ctx.Err()
	}
	if err != nil {
		stop()
		return fmt.Errorf("presence: watch %s: %w", w.kv.Bucket(), err)
	}
	w.load(initial)
	p.mu.Lock()
	for _, e := range initial {
		w.rev = max(w.rev, e.Revision())
	}
	p.mu.Unlock()
	if w.stop != nil {
		w.stop()
	}
	w.stop = stop
	p.loops.Add(1)
	go p.follow(wctx, kw, w)
	return nil
}

// loadInitial returns the entries kw delivers before its marker.
func loadInitial(ctx context.Context, kw jetstream.KeyWatcher) ([]jetstream.KeyValueEntry, error) {
	var initial []jetstream.KeyValueEntry
	for {
		select {
		case e, ok := <-kw.Updates():
			if !ok {
				return nil, errors.New("watch ended while loading")
			}
			if e == nil {
				return initial, nil
			}
			initial = append(initial, e)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// follow applies each entry kw delivers until kw ends: at Close, when w
// is watched again, or when the nats.Conn is closed. Two watchers of w may
// overlap for a moment; applying an entry twice, or an older one after a
// newer, changes nothing.
func (p *Presence) follow(ctx context.Context, kw jetstream.KeyWatcher, w *watched) {
	defer p.loops.Done()
	for e := range kw.Updates() {
		if e == nil {
			continue
		}
		w.apply(e)
		p.mu.Lock()
		w.rev = max(w.rev, e.Revision())
		p.mu.Unlock()
	}
	if ctx.Err() == nil {
		p.opt.Logger.Error("presence: watch ended before Close (NATS connection closed?); this node's view of who is online is frozen", "node", p.opt.Node, "bucket", w.kv.Bucket())
	}
}

// stalled says whether the nodes watch has yet to deliver this node's
// heartbeat of revision rev. heartbeatLoop asks it a Heartbeat after it
// put that one.
func (p *Presence) stalled(rev uint64) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.nodesW.rev < rev
}

// rewatch replaces both watchers by new ones that resume after the last
// revision applied. NATS's client recreates a watch whose consumer a
// server took down (a restart, a failed server of a cluster) only after
// missing its idle heartbeats for some ten seconds; meanwhile this node's
// view stays frozen, and a dead node's users would stay online longer
// than NodeTTL. The claims watch is replaced too: its consumer usually
// shares the failed server.
func (p *Presence) rewatch() {
	for _, w := range []*watched{p.nodesW, p.claimsW} {
		p.mu.Lock()
		from := w.rev
		p.mu.Unlock()
		ctx, cancel := context.WithTimeout(p.closing, opTimeout)
		err := p.watch(ctx, w, from)
		cancel()
		if err != nil {
			p.opt.Logger.Warn("presence: restarting a watch failed; trying again after the next heartbeat", "node", p.opt.Node, "err", err)
			return
		}
	}
	p.opt.Logger.Info("presence: watches restarted: one stopped delivering", "node", p.opt.Node)
}

// stopWatchers ends the watches by cancelling their context: the
// subscriptions end at once, which ends the follow goroutines, and NATS's
// own goroutine then deletes the consumers, bounded by its request
// timeout, without holding up Close (KeyWatcher.Stop would wait for that).
func (p *Presence) stopWatchers() {
	p.stopWatching()
}
