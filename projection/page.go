package projection

import (
	"slices"

	"github.com/oklog/ulid/v2"
)

// Page selects up to limit ids from ids, which are in log order: the
// newest ones before `before`, or else the oldest ones after `after`, or
// else the newest ones. A zero ULID means "not given". more reports whether
// ids holds further ones beyond the page in the direction of travel (older
// for before and the default, newer for after). It costs two binary
// searches; the page shares ids' backing array.
func Page(ids []ulid.ULID, before, after ulid.ULID, limit int) (page []ulid.ULID, more bool) {
	if limit <= 0 {
		return nil, false
	}
	if after != (ulid.ULID{}) {
		start := upperBound(ids, after)
		end := min(start+limit, len(ids))
		return ids[start:end], end < len(ids)
	}
	end := len(ids)
	if before != (ulid.ULID{}) {
		end, _ = slices.BinarySearchFunc(ids, before, compareID)
	}
	start := max(0, end-limit)
	return ids[start:end], start > 0
}

// Range returns the ids of ids that are greater than after and not greater
// than upto, which are in log order.
func Range(ids []ulid.ULID, after, upto ulid.ULID) []ulid.ULID {
	return ids[upperBound(ids, after):upperBound(ids, upto)]
}

// upperBound returns the index of the first id greater than id.
func upperBound(ids []ulid.ULID, id ulid.ULID) int {
	i, found := slices.BinarySearchFunc(ids, id, compareID)
	if found {
		i++
	}
	return i
}

func compareID(a, b ulid.ULID) int { return a.Compare(b) }

// SortedConcat returns the ids of all lists as one new list in log order:
// it concatenates them and sorts the result, O(n log n) for n ids, rather
// than merging the lists as sorted runs. The lists are left as they are.
func SortedConcat(lists [][]ulid.ULID) []ulid.ULID {
	n := 0
	for _, l := range lists {
		n += len(l)
	}
	out := make([]ulid.ULID, 0, n)
	for _, l := range lists {
		out = append(out, l...)
	}
	slices.SortFunc(out, compareID)
	return out
}
