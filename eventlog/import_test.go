package eventlog_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/chateau/chateau/eventlog"
	"github.com/oklog/ulid/v2"
)

// importRecords returns n records whose ids follow one another from ms on,
// one millisecond apart.
func importRecords(ms uint64, n int) []eventlog.Record {
	recs := make([]eventlog.Record, n)
	for i := range recs {
		recs[i] = eventlog.Record{ID: ulid.MustNew(ms+uint64(i), nil), Data: fmt.Appendf(nil, "imported %d", i)}
		recs[i].ID[15] = byte(i + 1) // a random part, as a real id has
	}
	return recs
}

// TestLog_Import_KeepsIDs: imported records are stored with their ids,
// survive a reopen, and the next Append gets a greater id even when the
// clock is behind them.
func TestLog_Import_KeepsIDs(t *testing.T) {
	l, path := mustOpenLog(t)
	appended, err := l.Append([]byte("first"))
	if err != nil {
		t.Fatal(err)
	}
	future := uint64(time.Now().Add(time.Hour).UnixMilli())
	recs := importRecords(future, 3)
	if err := l.Import(recs); err != nil {
		t.Fatalf("import: %v", err)
	}
	if got := l.Last(); got != recs[2].ID {
		t.Fatalf("Last after import = %s, want %s", got, recs[2].ID)
	}
	next, err := l.Append([]byte("after"))
	if err != nil {
		t.Fatal(err)
	}
	if next[0].Compare(recs[2].ID) <= 0 {
		t.Fatalf("Append after import got id %s, not greater than the imported %s", next[0], recs[2].ID)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = mustOpen(t, path, eventlog.Options{ReadOnly: true})
	got := scanAll(t, l, ulid.ULID{})
	want := append(append([]eventlog.Record{{ID: appended[0], Data: []byte("first")}}, recs...),
		eventlog.Record{ID: next[0], Data: []byte("after")})
	if len(got) != len(want) {
		t.Fatalf("reopened log holds %d records, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i].ID != want[i].ID || string(got[i].Data) != string(want[i].Data) {
			t.Errorf("record %d = %s %q, want %s %q", i, got[i].ID, got[i].Data, want[i].ID, want[i].Data)
		}
	}
}

// TestLog_Import_Refused: records whose ids do not strictly increase past
// the log's last id are refused whole, with ErrUnordered; so is an import
// into a read-only or closed log, with their errors.
func TestLog_Import_Refused(t *testing.T) {
	base := uint64(time.Now().Add(time.Hour).UnixMilli())
	recs := importRecords(base, 3)
	tests := []struct {
		name  string
		first []eventlog.Record // imported before
		recs  []eventlog.Record
	}{
		{"equal to the last", recs[1:2], []eventlog.Record{recs[1], recs[2]}},
		{"before the last", recs[1:2], []eventlog.Record{recs[0], recs[2]}},
		{"repeated", nil, []eventlog.Record{recs[2], recs[2]}},
		{"decreasing", nil, []eventlog.Record{importRecords(base+10, 1)[0], importRecords(base+5, 1)[0]}},
		{"zero id", nil, []eventlog.Record{{Data: []byte("x")}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, _ := mustOpenLog(t)
			if err := l.Import(tt.first); err != nil {
				t.Fatal(err)
			}
			before := scanAll(t, l, ulid.ULID{})
			if err := l.Import(tt.recs); !errors.Is(err, eventlog.ErrUnordered) {
				t.Fatalf("import = %v, want ErrUnordered", err)
			}
			if after := scanAll(t, l, ulid.ULID{}); len(after) != len(before) {
				t.Fatalf("a refused import stored %d records", len(after)-len(before))
			}
		})
	}
}

// TestLog_Import_ReadOnlyClosed: a read-only log refuses an import with
// ErrReadOnly, a closed one with ErrClosed; no records is no error.
func TestLog_Import_ReadOnlyClosed(t *testing.T) {
	recs := importRecords(uint64(time.Now().UnixMilli()), 1)
	l, path := mustOpenLog(t)
	if err := l.Import(nil); err != nil {
		t.Fatalf("import of nothing: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Import(recs); !errors.Is(err, eventlog.ErrClosed) {
		t.Errorf("import into a closed log = %v, want ErrClosed", err)
	}
	ro := mustOpen(t, path, eventlog.Options{ReadOnly: true})
	if err := ro.Import(recs); !errors.Is(err, eventlog.ErrReadOnly) {
		t.Errorf("import into a read-only log = %v, want ErrReadOnly", err)
	}
}

// TestLog_Import_WakesAppended: an import is a commit for Appended.
func TestLog_Import_WakesAppended(t *testing.T) {
	l, _ := mustOpenLog(t)
	appended := l.Appended()
	if err := l.Import(importRecords(uint64(time.Now().UnixMilli()), 2)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-appended:
	default:
		t.Fatal("Appended's channel is still open after an import")
	}
}
