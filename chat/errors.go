package chat

import (
	"errors"
	"fmt"
	"time"
)

// Status codes carried in every server frame's "status" field.
const (
	StatusOK            = 200 // request done; a live delivery
	StatusCreated       = 201 // delivery of a new chat's first message
	StatusNotRegistered = 301 // the connection must register first
	StatusConflict      = 302 // already registered, name online, chat exists
	StatusBadRequest    = 400 // malformed frame, JSON or field
	StatusUnauthorized  = 401 // wrong or missing password
	StatusForbidden     = 403 // not a member of the chat
	StatusNotFound      = 404 // no such user or chat; nobody online
	StatusTooLarge      = 413 // content over the limit
	StatusTooMany       = 429 // over the connection's rate limit
	StatusInternal      = 500 // the event could not be stored
)

// Errors found while decoding a frame.
var (
	// ErrBadRequest means the frame is not a JSON object, or a field is
	// missing, has the wrong type or an invalid value.
	ErrBadRequest = errors.New("bad request")
	// ErrUnknownType means the "type" names no request.
	ErrUnknownType = errors.New("unknown request type")
	// ErrTooLarge means a content field is over the limit.
	ErrTooLarge = errors.New("content too large")
)

// Errors found while checking a request against the connection and the
// projections.
var (
	// ErrRateLimited means the connection is over its request rate; the
	// request was not looked at.
	ErrRateLimited = errors.New("rate limit exceeded")
	// ErrLoginThrottled means a RegisterRequest came while its name or the
	// client's address was waiting out a backoff after wrong passwords; the
	// password was not checked. It is an ErrRateLimited.
	ErrLoginThrottled = fmt.Errorf("%w: too many wrong passwords", ErrRateLimited)
	// ErrHashingBusy means the queue of passwords waiting to be hashed was
	// full; the password was not checked. It is an ErrRateLimited.
	ErrHashingBusy = fmt.Errorf("%w: password hashing busy", ErrRateLimited)
	// ErrUnauthorized means a protected name's password was wrong or missing,
	// or the server requires a password.
	ErrUnauthorized = errors.New("wrong username or password")
	// ErrNotRegistered means the connection sent a request before registering.
	ErrNotRegistered = errors.New("register first")
	// ErrConflict means the name or chat is taken, or the connection is
	// already registered.
	ErrConflict = errors.New("conflict")
	// ErrNotFound means a named user or chat does not exist, or nobody is online.
	ErrNotFound = errors.New("not found")
	// ErrForbidden means the requester is not a member of the chat.
	ErrForbidden = errors.New("forbidden")
)

// Errors found while storing an event.
var (
	// ErrStorage means the event log refused the append; nothing was stored.
	ErrStorage = errors.New("could not store the request")
)

// StatusOf maps an error to its wire status. It is the only place that does.
func StatusOf(err error) int {
	switch {
	case errors.Is(err, ErrBadRequest), errors.Is(err, ErrUnknownType):
		return StatusBadRequest
	case errors.Is(err, ErrTooLarge):
		return StatusTooLarge
	case errors.Is(err, ErrRateLimited):
		return StatusTooMany
	case errors.Is(err, ErrUnauthorized):
		return StatusUnauthorized
	case errors.Is(err, ErrNotRegistered):
		return StatusNotRegistered
	case errors.Is(err, ErrConflict):
		return StatusConflict
	case errors.Is(err, ErrNotFound):
		return StatusNotFound
	case errors.Is(err, ErrForbidden):
		return StatusForbidden
	}
	return StatusInternal
}

// Reasonf wraps a sentinel with the human sentence sent as "reason".
func Reasonf(sentinel error, format string, args ...any) error {
	return &reasonError{sentinel: sentinel, reason: fmt.Sprintf(format, args...)}
}

type reasonError struct {
	sentinel error
	reason   string
}

func (e *reasonError) Error() string { return e.reason }
func (e *reasonError) Unwrap() error { return e.sentinel }

// retryError is a refusal that says when to try again: its ErrorResponse
// carries retry_after.
type retryError struct {
	error
	after time.Duration
}

func (e *retryError) Unwrap() error { return e.error }

// retrySeconds is a wait as retry_after: whole seconds, rounded up, at
// least 1, so that a client that waits that long is not refused again for
// the same reason.
func retrySeconds(d time.Duration) int {
	return max(1, int((d+time.Second-1)/time.Second))
}
