package chat

import (
	"fmt"
	"time"

	"github.com/chateau/chateau/projection"
)

// busyRetry is the wait given to a password refused because others are
// being hashed or checked; one hash takes a fraction of it.
const busyRetry = time.Second

// checkPassword does the slow part of a RegisterRequest with a password in
// the connection's reader: it verifies the password against the name's
// stored hash, or hashes it for a new name. The sequencer then checks that
// the name's state has not changed meanwhile. Before any hashing, the login
// throttle may refuse it (after too many wrong passwords for the name or
// from c's address), and so may the hash queue when full: then r gets 429
// with retry_after and costs no hash.
func (c *Core) checkPassword(s *Session, r *Request) {
	if r.Kind != TypeRegister || r.Err != nil || r.Password == "" {
		return
	}
	stored := c.storedHash(r.Username)
	if stored == nil {
		// New here; in a cluster, maybe not on another node.
		if err := c.freshState(); err != nil {
			c.Logger.Error("sync with the cluster's log", "err", err)
			r.Err = fmt.Errorf("%w: the cluster's log did not answer", ErrStorage)
			return
		}
		stored = c.storedHash(r.Username)
	}
	if len(stored) > 0 {
		c.verifyPassword(s, r, r.Username, r.Password, stored)
		return
	}
	if wait := c.throttle.admitNew(s.addrKey, c.Now()); wait > 0 {
		c.refuseLogin(r, throttled(wait), "throttled")
		return
	}
	var hash []byte
	var err error
	if !c.hash(func() { hash, err = projection.HashPassword(r.Password, c.PasswordCost) }) {
		c.refuseLogin(r, hashingBusy(), "hashing_busy")
		return
	}
	switch {
	case stored == nil && err != nil:
		c.Logger.Error("hash password", "err", err)
		r.Err = ErrStorage
	case stored == nil:
		r.passwordHash = hash
	default:
		// An unprotected name takes no password; it was hashed anyway so
		// that the answer takes as long as for a protected one.
	}
}

// storedHash is the name's password hash: nil if the name does not exist,
// empty if it is unprotected.
func (c *Core) storedHash(name string) []byte {
	var stored []byte
	c.View(func(st *projection.State) {
		if u, ok := st.User(name); ok {
			stored = u.PasswordHash
			if stored == nil {
				stored = []byte{} // exists, unprotected
			}
		}
	})
	return stored
}

// verifyPassword checks password, given for name, against name's stored
// hash, if the throttle and the hash queue let it, and tells the throttle
// how it went. A match sets r.verifiedHash.
func (c *Core) verifyPassword(s *Session, r *Request, name, password string, stored []byte) {
	at, wait := c.throttle.admit(name, s.addrKey, c.Now())
	if wait > 0 {
		c.refuseLogin(r, throttled(wait), "throttled")
		return
	}
	var ok bool
	var err error
	if !c.hash(func() { ok, err = projection.CheckPassword(stored, password) }) {
		c.throttle.done(at, notChecked, c.Now())
		c.refuseLogin(r, hashingBusy(), "hashing_busy")
		return
	}
	if err != nil {
		c.Logger.Error("check password", "user", name, "err", err)
	}
	if ok {
		r.verifiedHash = stored
		c.throttle.done(at, passwordRight, c.Now())
		return
	}
	nameLocked, addrLocked := c.throttle.done(at, passwordWrong, c.Now())
	if nameLocked || addrLocked {
		// Once per name or address as its backoff begins, not per refusal.
		c.Logger.Warn("login throttled: too many wrong passwords", "user", name, "remote", s.addrKey,
			"name_locked", nameLocked, "address_locked", addrLocked)
	}
}

// hash runs fn, one password hash, through the hash queue, and reports
// false without running it if the queue is full.
func (c *Core) hash(fn func()) bool {
	return c.hashes.do(func() {
		c.Metrics.PasswordHashes.Inc()
		fn()
	})
}

// refuseLogin answers r with err, a 429 with retry_after, counted by why.
func (c *Core) refuseLogin(r *Request, err error, why string) {
	c.Metrics.LoginsRefused.WithLabelValues(why).Inc()
	r.Err = err
}

func throttled(wait time.Duration) error {
	return &retryError{error: Reasonf(ErrLoginThrottled,
		"too many wrong passwords for this name or from this address; try again in %d s", retrySeconds(wait)), after: wait}
}

func hashingBusy() error {
	return &retryError{error: Reasonf(ErrHashingBusy,
		"the server is busy checking passwords; try again in %d s", retrySeconds(busyRetry)), after: busyRetry}
}

// hashQueue bounds password hashing, which takes a core and 19 MiB for
// tens of milliseconds: at most cap(running) hashes run at once, and at
// most cap(admitted)-cap(running) wait for a turn. A reader that finds the
// queue full is refused at once, so it never waits behind more than
// cap(admitted) hashes.
type hashQueue struct {
	admitted chan struct{} // a token per hash running or waiting
	running  chan struct{} // a token per hash running
}

// newHashQueue runs at most procs-1 hashes at once (at least one), which
// leaves a core to the sequencer and the connections, and lets 2*procs
// more wait.
func newHashQueue(procs int) *hashQueue {
	run := max(1, procs-1)
	return &hashQueue{admitted: make(chan struct{}, run+2*procs), running: make(chan struct{}, run)}
}

// do runs fn once a turn is free and reports true, or reports false at
// once if the queue is full.
func (h *hashQueue) do(fn func()) bool {
	select {
	case h.admitted <- struct{}{}:
	default:
		return false
	}
	defer func() { <-h.admitted }()
	h.running <- struct{}{}
	defer func() { <-h.running }()
	fn()
	return true
}
