package projection_test

import (
	"slices"
	"testing"

	"github.com/chateau/chateau/projection"
	"github.com/oklog/ulid/v2"
)

func TestPage(t *testing.T) {
	ids := make([]ulid.ULID, 10)
	for i := range ids {
		ids[i] = idAt(uint64(1000+10*i), 0)
	}
	between := idAt(1045, 0) // between ids[4] and ids[5]
	none := ulid.ULID{}
	tests := []struct {
		name          string
		before, after ulid.ULID
		limit         int
		from, to      int
		more          bool
	}{
		{"newest", none, none, 3, 7, 10, true},
		{"all", none, none, 20, 0, 10, false},
		{"before an id", ids[6], none, 3, 3, 6, true},
		{"before, to the start", ids[2], none, 5, 0, 2, false},
		{"before a gap", between, none, 2, 3, 5, true},
		{"before the first", ids[0], none, 5, 0, 0, false},
		{"after an id", none, ids[2], 3, 3, 6, true},
		{"after, to the end", none, ids[6], 5, 7, 10, false},
		{"after a gap", none, between, 2, 5, 7, true},
		{"after the last", none, ids[9], 5, 10, 10, false},
		{"zero limit", none, none, 0, 0, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			page, more := projection.Page(ids, tt.before, tt.after, tt.limit)
			if !slices.Equal(page, ids[tt.from:tt.to]) || more != tt.more {
				t.Fatalf("got %d ids more=%v, want ids[%d:%d] more=%v", len(page), more, tt.from, tt.to, tt.more)
			}
		})
	}
}

func TestRange_SortedConcat(t *testing.T) {
	a := []ulid.ULID{idAt(1, 0), idAt(3, 0), idAt(5, 0)}
	b := []ulid.ULID{idAt(2, 0), idAt(4, 0), idAt(6, 0)}
	if got := projection.Range(a, idAt(1, 0), idAt(5, 0)); !slices.Equal(got, a[1:]) {
		t.Fatalf("Range = %v", got)
	}
	if got := projection.Range(a, ulid.ULID{}, idAt(4, 0)); !slices.Equal(got, a[:2]) {
		t.Fatalf("Range from zero = %v", got)
	}
	merged := projection.SortedConcat([][]ulid.ULID{projection.Range(a, idAt(1, 0), idAt(6, 0)), b})
	want := []ulid.ULID{idAt(2, 0), idAt(3, 0), idAt(4, 0), idAt(5, 0), idAt(6, 0)}
	if !slices.Equal(merged, want) {
		t.Fatalf("SortedConcat = %v", merged)
	}
}
