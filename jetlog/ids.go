package jetlog

import (
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/oklog/ulid/v2"
)

// idHeader carries a message's proposed id (see the package doc).
const idHeader = "Chateau-Id"

// errNoIDs means an id has no successor: it is the largest ULID.
var errNoIDs = errors.New("no id follows the largest ULID")

// effectiveID is the id of a record whose predecessor has the id prev and
// which proposes proposal: the proposal if it is greater, else prev plus
// one. Every node computes the same, so it must depend on nothing else.
func effectiveID(prev, proposal ulid.ULID) (ulid.ULID, error) {
	if proposal.Compare(prev) > 0 {
		return proposal, nil
	}
	return increment(prev)
}

// increment returns id plus one, read as a 128-bit number: one more in the
// 80-bit random part, or, when that overflows, the next millisecond with a
// zero random part.
func increment(id ulid.ULID) (ulid.ULID, error) {
	for i := len(id) - 1; i >= 0; i-- {
		id[i]++
		if id[i] != 0 {
			return id, nil
		}
	}
	return ulid.ULID{}, errNoIDs
}

// proposalOf reads a message's proposed id from its header value; a
// missing or invalid one proposes the millisecond of the message's
// JetStream timestamp, with a zero random part.
func proposalOf(header string, stored time.Time) ulid.ULID {
	if id, err := ulid.ParseStrict(header); err == nil {
		return id
	}
	var id ulid.ULID
	// SetTime fails only past ULID's last millisecond (the year 10889).
	_ = id.SetTime(ulid.Timestamp(stored))
	return id
}

// propose returns n new ids, increasing, all greater than seen: from the
// clock where it has moved past seen, else counting up from it, so that
// a publisher's proposals keep its own order even when its clock steps
// back or runs behind another node's.
func propose(now time.Time, seen ulid.ULID, n int) ([]ulid.ULID, error) {
	ids := make([]ulid.ULID, n)
	last := seen
	ms := ulid.Timestamp(now)
	for i := range ids {
		var err error
		if ms > last.Time() {
			last, err = ulid.New(ms, rand.Reader)
		} else {
			last, err = increment(last)
		}
		if err != nil {
			return nil, fmt.Errorf("propose an id after %s: %w", seen, err)
		}
		ids[i] = last
	}
	return ids, nil
}

// later returns the greater of two ids.
func later(a, b ulid.ULID) ulid.ULID {
	if a.Compare(b) > 0 {
		return a
	}
	return b
}
