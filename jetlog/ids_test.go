package jetlog

import (
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
)

// id makes a ULID from a millisecond and the last byte of its random part.
func id(ms uint64, last byte) ulid.ULID {
	u := ulid.MustNew(ms, nil)
	u[15] = last
	return u
}

func TestEffectiveID(t *testing.T) {
	var top ulid.ULID // the largest random part at 7 ms
	_ = top.SetTime(7)
	for i := 6; i < len(top); i++ {
		top[i] = 0xff
	}
	var largest ulid.ULID
	for i := range largest {
		largest[i] = 0xff
	}
	tests := []struct {
		name           string
		prev, proposal ulid.ULID
		want           ulid.ULID
		wantErr        bool
	}{
		{"greater proposal", id(5, 1), id(6, 0), id(6, 0), false},
		{"greater in the same ms", id(5, 1), id(5, 2), id(5, 2), false},
		{"equal proposal", id(5, 1), id(5, 1), id(5, 2), false},
		{"smaller proposal", id(5, 1), id(4, 9), id(5, 2), false},
		{"first record", ulid.ULID{}, id(3, 0), id(3, 0), false},
		{"zero proposal first", ulid.ULID{}, ulid.ULID{}, id(0, 1), false},
		{"random part overflows", top, id(1, 0), id(8, 0), false},
		{"no id left", largest, id(1, 0), ulid.ULID{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := effectiveID(tt.prev, tt.proposal)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("effectiveID(%s, %s) = %s, %v; want %s (error %v)", tt.prev, tt.proposal, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestProposalOf(t *testing.T) {
	stored := time.UnixMilli(1_700_000_000_123)
	given := id(42, 7)
	tests := []struct {
		name, header string
		want         ulid.ULID
	}{
		{"valid", given.String(), given},
		{"missing", "", id(1_700_000_000_123, 0)},
		{"invalid", "not-a-ulid", id(1_700_000_000_123, 0)},
		{"lower case", "01arz3ndektsv4rrffq69g5fav", ulid.MustParse("01ARZ3NDEKTSV4RRFFQ69G5FAV")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := proposalOf(tt.header, stored); got != tt.want {
				t.Errorf("proposalOf(%q) = %s, want %s", tt.header, got, tt.want)
			}
		})
	}
}

func TestPropose(t *testing.T) {
	now := time.UnixMilli(1_000)
	tests := []struct {
		name string
		seen ulid.ULID
	}{
		{"clock ahead of seen", id(500, 0)},
		{"clock behind seen", id(2_000, 0xff)},
		{"clock at seen", id(1_000, 3)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ids, err := propose(now, tt.seen, 3)
			if err != nil {
				t.Fatal(err)
			}
			prev := tt.seen
			for i, id := range ids {
				if id.Compare(prev) <= 0 {
					t.Fatalf("proposal %d is %s, not greater than %s", i, id, prev)
				}
				prev = id
			}
			if tt.seen.Time() < 1_000 && ids[0].Time() != 1_000 {
				t.Errorf("with the clock ahead, the first proposal's time is %d, want the clock's 1000", ids[0].Time())
			}
		})
	}
}
