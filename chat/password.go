package chat

import (
	"bytes"

	"github.com/chateau/chateau/projection"
)

// checkPasswordChange does the slow part of a ChangePasswordRequest in the
// connection's reader, as checkPassword does for a sign-in: it checks the
// old password against the name's hash (throttled like a sign-in) and
// hashes the new one. It first asks the sequencer which name the session
// is signed in as, once the session's earlier requests are answered.
func (c *Core) checkPasswordChange(s *Session, r *Request) {
	if r.Kind != TypeChangePassword || r.Err != nil {
		return
	}
	name := s.settledUser()
	if name == "" {
		return // the sequencer answers 301
	}
	stored := c.storedHash(name)
	if len(stored) > 0 {
		// A wrong old password leaves verifiedHash nil: the sequencer
		// answers 401, unless the request is a retry of one that worked.
		if c.verifyPassword(s, r, name, r.OldPassword, stored); r.verifiedHash == nil {
			return
		}
	} else {
		r.verifiedHash = []byte{} // unprotected: nothing to check
	}
	var hash []byte
	var err error
	if !c.hash(func() { hash, err = projection.HashPassword(r.NewPassword, c.PasswordCost) }) {
		c.refuseLogin(r, hashingBusy(), "hashing_busy")
		return
	}
	if err != nil {
		c.Logger.Error("hash password", "err", err)
		r.Err = ErrStorage
		return
	}
	r.passwordHash = hash
}

// settledUser returns the name s is signed in as once the sequencer has
// answered everything s submitted before.
func (s *Session) settledUser() string {
	reply := make(chan string, 1)
	s.core.ops <- settleOp{s: s, reply: reply}
	return <-reply
}

// settleOp asks the sequencer for its session's user; it waits for the
// batch before it to be stored and answered (waitsForBatch).
type settleOp struct {
	s     *Session
	reply chan string
}

func (o settleOp) session() *Session { return o.s }

// changePassword decides a ChangePasswordRequest that the reader checked:
// the old password matched the hash that is still the name's.
func (q *sequencer) changePassword(s *Session, r *Request) {
	u, _ := q.c.State.User(s.user)
	if r.verifiedHash == nil || !bytes.Equal(r.verifiedHash, u.PasswordHash) {
		q.fail(s, r, Reasonf(ErrUnauthorized, "wrong password"))
		return
	}
	q.propose(s, r, projection.PasswordChanged{PasswordHash: r.passwordHash}, false)
}
