package wsapi

import (
	"time"

	"github.com/chateau/chateau/projection"
)

// busyRetry is the wait given to a password refused because others are
// being hashed; one hash takes a fraction of it.
const busyRetry = time.Second

// checkPassword does the slow part of a RegisterRequest with a password in
// the connection's reader: it verifies the password against the name's
// stored hash, or hashes it for a new name. The sequencer then checks that
// the name's state has not changed meanwhile. If the hash queue is full,
// nothing is hashed and r gets 429 with retry_after.
func (s *Server) checkPassword(r *request) {
	if r.kind != typeRegister || r.err != nil || r.password == "" {
		return
	}
	stored := s.storedHash(r.username)
	var hash []byte
	var ok bool
	var err error
	hashed := s.hash(func() {
		if len(stored) > 0 {
			ok, err = projection.CheckPassword(stored, r.password)
		} else {
			// An unprotected name takes no password; hash anyway so that
			// the answer takes as long as for a protected one.
			hash, err = projection.HashPassword(r.password, s.PasswordCost)
		}
	})
	switch {
	case !hashed:
		s.refuseLogin(r, hashingBusy(), "hashing_busy")
	case len(stored) > 0 && err != nil:
		s.Logger.Error("check password", "user", r.username, "err", err)
	case len(stored) > 0 && ok:
		r.verifiedHash = stored
	case stored == nil && err != nil:
		s.Logger.Error("hash password", "err", err)
		r.err = ErrStorage
	case stored == nil:
		r.passwordHash = hash
	}
}

// storedHash is the name's password hash: nil if the name does not exist,
// empty if it is unprotected.
func (s *Server) storedHash(name string) []byte {
	var stored []byte
	s.View(func(st *projection.State) {
		if u, ok := st.User(name); ok {
			stored = u.PasswordHash
			if stored == nil {
				stored = []byte{} // exists, unprotected
			}
		}
	})
	return stored
}

// hash runs fn, one password hash, through the hash queue, and reports
// false without running it if the queue is full.
func (s *Server) hash(fn func()) bool {
	return s.hashes.do(func() {
		s.Metrics.PasswordHashes.Inc()
		fn()
	})
}

// refuseLogin answers r with err, a 429 with retry_after, counted by why.
func (s *Server) refuseLogin(r *request, err error, why string) {
	s.Metrics.LoginsRefused.WithLabelValues(why).Inc()
	r.err = err
}

func hashingBusy() error {
	return &retryError{error: reasonf(ErrHashingBusy,
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
