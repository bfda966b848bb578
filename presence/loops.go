package presence

import (
	"context"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// beat says this node is alive: it puts its id in the nodes bucket, and
// returns the revision.
func (p *Presence) beat(ctx context.Context) (uint64, error) {
	return p.nodes.Put(ctx, keyOf(p.opt.Node), []byte(p.opt.Node))
}

// heartbeatLoop beats every Heartbeat until Close, starting after the
// beat of revision last. A failed beat is logged once, when beats begin
// to fail, and again when they work again; each is bounded by Heartbeat,
// so beats never pile up. The nodes watch should deliver each beat well
// before the next one: if after a successful beat the previous one has
// not arrived yet, the watches are restarted (rewatch).
func (p *Presence) heartbeatLoop(last uint64) {
	defer p.senders.Done()
	t := time.NewTicker(p.opt.Heartbeat)
	defer t.Stop()
	failing := false
	for {
		select {
		case <-p.closing.Done():
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(p.closing, p.opt.Heartbeat)
		rev, err := p.beat(ctx)
		cancel()
		switch {
		case err != nil && !failing:
			p.opt.Logger.Warn("presence: heartbeat failed; other nodes will count this one dead after the node TTL", "node", p.opt.Node, "err", err)
		case err == nil && failing:
			p.opt.Logger.Info("presence: heartbeat works again", "node", p.opt.Node)
		}
		failing = err != nil
		if err == nil {
			if p.stalled(last) {
				p.rewatch()
			}
			last = rev
		}
	}
}

// releaseLoop sends the queued releases in order until Close, then sends
// those Close queued, bounded by Close's deadline. A release that NATS
// fails (not one refused because the claim is no longer this node's) is
// sent again, before those queued after it, every Heartbeat until it
// works: a user who leaves during a NATS outage must not stay online
// while the node lives.
func (p *Presence) releaseLoop() {
	defer p.senders.Done()
	var retry <-chan time.Time
	failing := false
	for {
		select {
		case <-p.releaseWake:
		case <-retry:
		case <-p.closing.Done():
			ctx, cancel := context.WithDeadline(context.Background(), p.closeDeadline)
			defer cancel()
			_ = p.sendReleases(ctx, false)
			return
		}
		err := p.sendReleases(p.closing, true) // one Close cuts short goes back to the queue
		switch {
		case p.closing.Err() != nil:
		case err != nil && !failing:
			p.opt.Logger.Warn("presence: release failed; retrying every heartbeat", "node", p.opt.Node, "err", err)
		case err == nil && failing:
			p.opt.Logger.Info("presence: releases work again", "node", p.opt.Node)
		}
		failing, retry = err != nil, nil
		if failing {
			retry = time.After(p.opt.Heartbeat)
		}
	}
}

// sendReleases deletes the queued claims in order, each only if it is
// still at the revision this node wrote, each bounded by opTimeout and
// ctx. If keep, the first delete that NATS fails ends it: that release
// and those after it go back to the front of the queue, and it returns
// the error. Otherwise it logs each failure and goes on.
func (p *Presence) sendReleases(ctx context.Context, keep bool) error {
	for {
		p.mu.Lock()
		queue := p.release
		p.release = nil
		p.mu.Unlock()
		if len(queue) == 0 {
			return nil
		}
		for i, h := range queue {
			opCtx, cancel := context.WithTimeout(ctx, opTimeout)
			err := p.claims.Delete(opCtx, h.key, jetstream.LastRevision(h.rev))
			cancel()
			if err == nil || isConflict(err) {
				continue
			}
			if keep {
				p.mu.Lock()
				p.release = slices.Concat(queue[i:], p.release)
				p.mu.Unlock()
				return err
			}
			p.opt.Logger.Warn("presence: release failed at close; other nodes count the name offline once this node counts as dead", "key", h.key, "err", err)
		}
	}
}

// lostLoop hands the names queued for Lost to the Lost channel, one at a
// time, until Close.
func (p *Presence) lostLoop() {
	defer p.loops.Done()
	for {
		p.mu.Lock()
		if len(p.lost) == 0 {
			p.mu.Unlock()
			select {
			case <-p.lostWake:
				continue
			case <-p.done:
				return
			}
		}
		name := p.lost[0]
		p.lost = p.lost[1:]
		p.mu.Unlock()
		select {
		case p.lostC <- name:
		case <-p.done:
			return
		}
	}
}

// isClosed says whether Close was called.
func (p *Presence) isClosed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closed
}

// Close takes this node offline: it waits for Claims in flight, stops the
// heartbeats, deletes this node's claims (those still its own) and its
// heartbeat, so that other nodes see its users go at once rather than
// after NodeTTL, then ends the watches and closes the Lost channel. The
// deletes are best effort and bounded by a few seconds: if NATS cannot be
// reached, the other nodes count this one dead after NodeTTL instead.
// Close returns nil; calls after the first do nothing.
func (p *Presence) Close() error {
	p.closeOnce.Do(func() {
		p.closeMu.Lock()
		p.mu.Lock()
		p.closed = true
		for key, rev := range p.own {
			p.release = append(p.release, held{key: key, rev: rev})
		}
		clear(p.own)
		p.mu.Unlock()
		p.closeMu.Unlock()

		p.closeDeadline = time.Now().Add(closeTimeout)
		p.beginClosing()
		p.senders.Wait()
		p.goodbye()
		p.stopWatchers()
		close(p.done)
		p.loops.Wait()
		close(p.lostC)
	})
	return nil
}

// goodbye deletes this node's heartbeat, which tells the other nodes that
// it is gone, within Close's deadline.
func (p *Presence) goodbye() {
	ctx, cancel := context.WithDeadline(context.Background(), p.closeDeadline)
	defer cancel()
	err := p.nodes.Delete(ctx, keyOf(p.opt.Node))
	if err != nil {
		p.opt.Logger.Warn("presence: goodbye failed; other nodes count this one dead after the node TTL", "node", p.opt.Node, "err", err)
	}
}
