package chat

import (
	"container/list"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"
)

// throttlePolicy is how many wrong passwords are free and how the wait
// after them grows. The server uses defaultThrottlePolicy; tests make
// their own.
type throttlePolicy struct {
	// freeName is how many wrong passwords for one name are free, each
	// from a different address; freeAddr how many from one address are,
	// whatever the names.
	freeName, freeAddr int
	// After the free ones, each wrong password makes the name or address
	// wait backoff, doubled for each further one, up to maxBackoff.
	backoff, maxBackoff time.Duration
	// forget drops an entry this long after its latest wrong password; it
	// is longer than maxBackoff.
	forget time.Duration
	// maxEntries bounds each of the two tables (names, addresses); the
	// entry used least recently goes first.
	maxEntries int
	// addrsPerName is how many of the latest addresses that failed on a
	// name the name remembers, so as to count each of them once.
	addrsPerName int
}

// defaultThrottlePolicy is the server's; README's Security table states it.
func defaultThrottlePolicy() throttlePolicy {
	return throttlePolicy{
		freeName:     5,
		freeAddr:     10,
		backoff:      time.Second,
		maxBackoff:   10 * time.Minute,
		forget:       time.Hour,
		maxEntries:   10_000,
		addrsPerName: 8,
	}
}

// loginThrottle counts wrong passwords per name and per client address and
// refuses attempts, before any hashing, while either is in its backoff.
//
// A name counts a wrong password only from an address that has not failed
// on it lately: one address guessing at a name is held back by its own
// (per-address) backoff, so it cannot keep the name locked against its
// owner signing in from elsewhere; many addresses guessing at one name
// lock it for everyone, for at most maxBackoff after the latest new one.
// A correct password clears the name's count; an address's count only
// expires (forget), so that signing in to an account of one's own does
// not buy more guesses at others.
//
// Concurrency: a loginThrottle is safe for use by any number of
// goroutines (each connection's reader calls it). Every method takes the
// mutex for a few map and list operations only, never across a hash, and
// never blocks otherwise. Each attempt admitted by admit must be ended by
// exactly one call of done. Time comes only from the callers' now.
type loginThrottle struct {
	policy throttlePolicy

	mu    sync.Mutex // guards names and addrs
	names failureTable
	addrs failureTable
}

func newLoginThrottle(p throttlePolicy) *loginThrottle {
	return &loginThrottle{policy: p, names: newFailureTable(p.maxEntries), addrs: newFailureTable(p.maxEntries)}
}

// attempt is a password check admitted by admit, to be ended by done.
type attempt struct {
	name, addr       string
	nameRec, addrRec *failures
}

// outcome is how an admitted attempt ended.
type outcome int

const (
	passwordRight outcome = iota
	passwordWrong
	notChecked // refused for another reason before the hash (hash queue full)
)

// admit lets a password for the protected name from addr be checked, or
// says how long to wait first. While the name or the address is in its
// free allowance, attempts still being checked count against it; after
// it, one attempt is checked at a time.
func (t *loginThrottle) admit(name, addr string, now time.Time) (attempt, time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	p := &t.policy
	n, a := t.names.lookup(name, now, p.forget), t.addrs.lookup(addr, now, p.forget)
	if wait := max(n.wait(now, p.freeName), a.wait(now, p.freeAddr)); wait > 0 {
		return attempt{}, wait
	}
	n, a = t.names.add(name), t.addrs.add(addr)
	n.inflight++
	a.inflight++
	return attempt{name: name, addr: addr, nameRec: n, addrRec: a}, 0
}

// admitNew says how long addr must wait before a password of its is
// hashed for a new or unprotected name (0: at once). Such a hash cannot
// fail, so it is not counted; but an address in its backoff gets no hash.
func (t *loginThrottle) admitNew(addr string, now time.Time) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	if a := t.addrs.lookup(addr, now, t.policy.forget); a != nil && now.Before(a.until) {
		return a.until.Sub(now)
	}
	return 0
}

// done ends an attempt: a wrong password counts against the address and,
// if the address is new to it, the name; a right one clears the name. It
// reports whether the name's or the address's backoff began with it.
func (t *loginThrottle) done(at attempt, o outcome, now time.Time) (nameLocked, addrLocked bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	p := &t.policy
	at.nameRec.inflight--
	at.addrRec.inflight--
	switch o {
	case passwordWrong:
		addrLocked = t.addrs.add(at.addr).fail(now, p.freeAddr, p)
		n := t.names.add(at.name)
		if n.noteAddr(at.addr, p.addrsPerName) {
			nameLocked = n.fail(now, p.freeName, p)
		}
		n.last = now // a repeated address keeps the name's memory of it
	case passwordRight:
		if n := t.names.lookup(at.name, now, p.forget); n != nil {
			n.count, n.until, n.addrs = 0, time.Time{}, nil
		}
	}
	t.names.tidy(at.name, now, p.forget)
	t.addrs.tidy(at.addr, now, p.forget)
	return nameLocked, addrLocked
}

// failures is one name's or address's record.
type failures struct {
	key      string
	count    int       // wrong passwords counted
	last     time.Time // the latest one
	until    time.Time // no attempt before this
	inflight int       // attempts admitted and not yet done
	addrs    []string  // names only: the latest addresses that failed, oldest first
	elem     *list.Element
}

// wait is how long an attempt must wait; f may be nil (no record).
func (f *failures) wait(now time.Time, free int) time.Duration {
	switch {
	case f == nil:
		return 0
	case now.Before(f.until):
		return f.until.Sub(now)
	case f.inflight > 0 && f.count+f.inflight >= free:
		return busyRetry // until those in flight are done
	}
	return 0
}

// fail counts a wrong password and, past the free ones, sets the backoff;
// it reports whether this one used up the free ones.
func (f *failures) fail(now time.Time, free int, p *throttlePolicy) bool {
	f.count++
	f.last = now
	if f.count >= free {
		f.until = now.Add(backoffAfter(f.count-free, p.backoff, p.maxBackoff))
	}
	return f.count == free
}

// backoffAfter is base doubled n times, at most limit.
func backoffAfter(n int, base, limit time.Duration) time.Duration {
	if n >= 40 {
		return limit
	}
	return min(base<<n, limit)
}

// noteAddr remembers that addr failed on this name and reports whether
// it is new here; only the latest keep addresses are remembered.
func (f *failures) noteAddr(addr string, keep int) bool {
	if i := slices.Index(f.addrs, addr); i >= 0 {
		f.addrs = append(slices.Delete(f.addrs, i, i+1), addr)
		return false
	}
	if len(f.addrs) >= keep {
		f.addrs = slices.Delete(f.addrs, 0, len(f.addrs)-keep+1)
	}
	f.addrs = append(f.addrs, addr)
	return true
}

// expired reports whether f no longer matters: nothing in flight, and no
// wrong password counted or the latest one forgotten.
func (f *failures) expired(now time.Time, forget time.Duration) bool {
	return f.inflight <= 0 && (f.count == 0 || now.Sub(f.last) >= forget)
}

// failureTable holds at most max records by key, the least recently used
// at the back of order, which goes first when a new one needs the room.
type failureTable struct {
	max     int
	entries map[string]*failures
	order   list.List // of *failures, most recently used first
}

func newFailureTable(max int) failureTable {
	return failureTable{max: max, entries: make(map[string]*failures)}
}

// lookup returns key's record, or nil if there is none or it has expired
// (then it is removed).
func (t *failureTable) lookup(key string, now time.Time, forget time.Duration) *failures {
	f := t.entries[key]
	if f != nil && f.expired(now, forget) {
		t.remove(f)
		return nil
	}
	return f
}

// add returns key's record, creating it (and evicting the least recently
// used one if the table is full), and marks it used.
func (t *failureTable) add(key string) *failures {
	if f := t.entries[key]; f != nil {
		t.order.MoveToFront(f.elem)
		return f
	}
	if len(t.entries) >= t.max {
		// An evicted record still held by an attempt is updated by its
		// done and then dropped with it; its key starts over.
		t.remove(t.order.Back().Value.(*failures))
	}
	f := &failures{key: key}
	f.elem = t.order.PushFront(f)
	t.entries[key] = f
	return f
}

// tidy removes key's record if it has expired.
func (t *failureTable) tidy(key string, now time.Time, forget time.Duration) {
	t.lookup(key, now, forget)
}

func (t *failureTable) remove(f *failures) {
	t.order.Remove(f.elem)
	delete(t.entries, f.key)
}

// addressKey is what the throttle counts a client by: the IP address of
// remoteAddr (host:port), or for IPv6 its /64, which one subscriber
// usually holds whole. Anything unparsable counts as itself.
func addressKey(remoteAddr string) string {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	ip = ip.Unmap().WithZone("")
	if ip.Is4() {
		return ip.String()
	}
	prefix, _ := ip.Prefix(64)
	return prefix.String()
}
