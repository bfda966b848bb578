package presence

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// maxAttempts bounds the writes of one Claim. After a write that loses a
// race, Claim knows the write that beat it, and usually wins or sees a
// live holder; only a name that others claim and release at once needs
// more.
const maxAttempts = 4

// Claim puts name online on this node. If name is online on another live
// node, Claim returns false and stores nothing, unless takeover: then it
// takes the name over, and that node's Lost channel gets name. A name held
// by a dead node, or by this node, is claimed.
//
// The server decides every claim: each write is conditional on the key's
// revision, so of two nodes racing for a free name exactly one wins, and
// the other, once its watch shows the winner's write, finds a live holder.
// The first write is based on this node's view (one round trip, usually
// all a claim takes); a refusal on a read of the key from the server.
// Whether a holder is alive is this node's view (see Others). Claim waits
// at most a few seconds; it returns NATS errors (an empty name is one),
// ErrContended, and ErrClosed after Close.
func (p *Presence) Claim(name string, takeover bool) (bool, error) {
	p.closeMu.RLock()
	defer p.closeMu.RUnlock()
	if p.isClosed() {
		return false, ErrClosed
	}
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	key := keyOf(name)
	cur, fresh := p.seen(key), false
	for range maxAttempts {
		may, err := p.mayTake(ctx, cur, takeover)
		if err == nil && !may {
			if fresh {
				return false, nil
			}
			cur, err = p.read(ctx, key)
		} else if err == nil {
			var rev uint64
			if rev, err = p.write(ctx, key, cur); err == nil {
				p.hold(key, name, rev)
				return true, nil
			}
			if isConflict(err) {
				cur, err = p.await(ctx, key, cur.rev)
			}
		}
		if err != nil {
			return false, fmt.Errorf("presence: claim %q: %w", name, err)
		}
		fresh = true
	}
	return false, fmt.Errorf("%w: %q", ErrContended, name)
}

// seen is the claim of key as this node's watch last saw it; the zero
// claim if it never saw one.
func (p *Presence) seen(key string) claim {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.names[key]
}

// read is the claim of key as the server holds it now (the zero claim if
// there is none), or as the watch shows it if that is newer: a replica
// that has not stored the latest writes yet may answer the read.
func (p *Presence) read(ctx context.Context, key string) (claim, error) {
	var c claim
	e, err := p.claims.Get(ctx, key)
	switch {
	case err == nil:
		c = claim{node: string(e.Value()), rev: e.Revision()}
	case !errors.Is(err, jetstream.ErrKeyNotFound):
		return claim{}, err
	}
	if w := p.seen(key); w.rev > c.rev {
		return w, nil
	}
	return c, nil
}

// await waits until this node's watch shows key at a revision newer than
// rev, that of a write that lost a race, and returns that claim. A read
// could be answered by a replica that has not stored the winning write
// yet (KV buckets let any replica answer), and then the loser would try
// again and lose again; the watch delivers every write, in order.
func (p *Presence) await(ctx context.Context, key string, rev uint64) (claim, error) {
	for {
		p.mu.Lock()
		c := p.names[key]
		if c.rev > rev {
			p.mu.Unlock()
			return c, nil
		}
		if p.changed == nil {
			p.changed = make(chan struct{})
		}
		changed := p.changed
		p.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return claim{}, ctx.Err()
		}
	}
}

// setNameLocked records c as key's claim and wakes those who await a
// change. p.mu must be held.
func (p *Presence) setNameLocked(key string, c claim) {
	p.names[key] = c
	select {
	case p.others <- struct{}{}:
	default: // a signal is pending already
	}
	if p.changed != nil {
		close(p.changed)
		p.changed = nil
	}
}

// write stores this node as the holder of key, if the key is still at c's
// revision (for the zero claim: if it holds no claim).
func (p *Presence) write(ctx context.Context, key string, c claim) (uint64, error) {
	if c.rev == 0 {
		return p.claims.Create(ctx, key, []byte(p.opt.Node))
	}
	return p.claims.Update(ctx, key, []byte(p.opt.Node), c.rev)
}

// mayTake says whether this node may replace claim c: if it is free or
// this node's, if takeover, or if its node is dead.
func (p *Presence) mayTake(ctx context.Context, c claim, takeover bool) (bool, error) {
	if c.node == "" || c.node == p.opt.Node || takeover {
		return true, nil
	}
	alive, err := p.alive(ctx, c.node)
	return !alive, err
}

// alive says whether node is alive. A node this node has never heard of
// (or heard say goodbye) may be one so new that its first heartbeat is
// still on its way here: the nodes bucket, which drops what is older than
// NodeTTL, is asked.
func (p *Presence) alive(ctx context.Context, node string) (bool, error) {
	p.mu.Lock()
	_, known := p.heard[node]
	alive := p.aliveLocked(node)
	p.mu.Unlock()
	if known {
		return alive, nil
	}
	_, err := p.nodes.Get(ctx, keyOf(node))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return false, nil
	}
	return err == nil, err
}

// hold records that this node holds key at rev, in its claims and in its
// view, which the watch would update only a moment later (so Others
// never lists a name this node has just taken over). If the watch has
// already seen a later revision that is not this node's, the claim was
// taken between the write and now: the name goes to Lost at once.
func (p *Presence) hold(key, name string, rev uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.names[key]
	if c.rev > rev && c.node != p.opt.Node {
		p.loseLocked(key, name)
		return
	}
	if rev > c.rev {
		p.setNameLocked(key, claim{name: name, node: p.opt.Node, rev: rev})
	}
	if rev > p.own[key] {
		p.own[key] = rev
	}
}

// loseLocked forgets this node's claim of key and queues name for Lost.
// p.mu must be held.
func (p *Presence) loseLocked(key, name string) {
	delete(p.own, key)
	p.lost = append(p.lost, name)
	wake(p.lostWake)
}

// Release takes name offline if this node still holds it. It does not
// wait: the release is queued and sent, after those queued before it, by a
// goroutine. The delete is conditional on the revision of this node's
// claim, so a name another node has taken meanwhile stays that node's.
// After Close, Release does nothing (Close released every name).
func (p *Presence) Release(name string) {
	key := keyOf(name)
	p.mu.Lock()
	defer p.mu.Unlock()
	rev, ok := p.own[key]
	if !ok || p.closed {
		return
	}
	delete(p.own, key)
	p.release = append(p.release, held{key: key, rev: rev})
	wake(p.releaseWake)
}

// isConflict says whether err means a conditional write found the key at
// another revision. Replicated buckets report it with another error code
// than single ones, which Create does not always map to ErrKeyExists.
func isConflict(err error) bool {
	if errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		return true
	}
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) &&
		(apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
			apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}

// wake signals a loop that waits on c (capacity 1) without waiting.
func wake(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}
