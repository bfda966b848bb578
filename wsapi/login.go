package wsapi

import (
	"github.com/chateau/chateau/projection"
)

// checkPassword does the slow part of a RegisterRequest with a password in
// the connection's reader, where it delays no one else: it verifies the
// password against the name's stored hash, or hashes it for a new name. The
// sequencer then checks that the name's state has not changed meanwhile.
func (s *Server) checkPassword(r *request) {
	if r.kind != typeRegister || r.err != nil || r.password == "" {
		return
	}
	var stored []byte
	s.View(func(st *projection.State) {
		if u, ok := st.User(r.username); ok {
			stored = u.PasswordHash
			if stored == nil {
				stored = []byte{} // exists, unprotected
			}
		}
	})
	s.hashing <- struct{}{}
	defer func() { <-s.hashing }()
	switch {
	case stored == nil:
		hash, err := projection.HashPassword(r.password, s.PasswordCost)
		if err != nil {
			s.Logger.Error("hash password", "err", err)
			r.err = ErrStorage
			return
		}
		r.passwordHash = hash
	case len(stored) > 0:
		ok, err := projection.CheckPassword(stored, r.password)
		if err != nil {
			s.Logger.Error("check password", "user", r.username, "err", err)
		}
		if ok {
			r.verifiedHash = stored
		}
	default:
		// An unprotected name takes no password; hash anyway so that the
		// answer takes as long as for a protected one.
		_, _ = projection.HashPassword(r.password, s.PasswordCost)
	}
}
