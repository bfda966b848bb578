package jetlog_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/chateau/chateau/eventlog"
	"github.com/chateau/chateau/jetlog"
	"github.com/oklog/ulid/v2"
)

// importRecords returns n records whose ids increase from the millisecond
// of at on, several in a millisecond, as a bbolt log's ids do.
func importRecords(at time.Time, n int) []eventlog.Record {
	recs := make([]eventlog.Record, n)
	for i := range recs {
		id := ulid.MustNew(ulid.Timestamp(at)+uint64(i/3), nil)
		id[15] = byte(i%3 + 1)
		recs[i] = eventlog.Record{ID: id, Data: fmt.Appendf(nil, "imported-%d", i)}
	}
	return recs
}

// TestLog_Import_KeepsIDs imports more than two batches whose ids lie in
// the future: the importing log and another node read them with exactly
// their ids, and a later Publish gets a greater id.
func TestLog_Import_KeepsIDs(t *testing.T) {
	url := startServer(t)
	l := mustNode(t, url, jetlog.Options{})
	want := importRecords(time.Now().Add(time.Hour), 2*jetlog.MaxBatch+5)
	if err := l.Import(want); err != nil {
		t.Fatalf("import: %v", err)
	}
	if l.Last() != want[len(want)-1].ID {
		t.Fatalf("Last = %s, want %s", l.Last(), want[len(want)-1].ID)
	}
	checkSame(t, "Read", readAll(t, l), want)
	checkSame(t, "Scan", scanAll(t, l, ulid.ULID{}), want)
	other := mustNode(t, url, jetlog.Options{ReadOnly: true})
	checkSame(t, "another node's Read", readAll(t, other), want)

	ids := mustAppend(t, l, "after")
	if ids[0].Compare(want[len(want)-1].ID) <= 0 {
		t.Fatalf("Append after the import got %s, not greater than the last imported %s", ids[0], want[len(want)-1].ID)
	}
}

// TestLog_Import_NotEmpty: a stream that holds a record is refused with
// ErrStreamNotEmpty, and nothing is added to it; an import of no records
// only checks that the stream is empty.
func TestLog_Import_NotEmpty(t *testing.T) {
	url := startServer(t)
	l := mustNode(t, url, jetlog.Options{})
	if err := l.Import(nil); err != nil {
		t.Fatalf("import of nothing into an empty stream: %v", err)
	}
	mustAppend(t, l, "there before")
	for _, recs := range [][]eventlog.Record{nil, importRecords(time.Now().Add(time.Hour), 3)} {
		if err := l.Import(recs); !errors.Is(err, jetlog.ErrStreamNotEmpty) {
			t.Errorf("import of %d records into a stream of 1 = %v, want ErrStreamNotEmpty", len(recs), err)
		}
	}
	if seq := lastSeq(t, mustJetStream(t, url), "chateau"); seq != 1 {
		t.Fatalf("the stream's last sequence is %d after refused imports, want 1", seq)
	}
}

// TestLog_Import_Refused: records whose ids do not increase, a read-only
// log and a closed one are refused, storing nothing.
func TestLog_Import_Refused(t *testing.T) {
	url := startServer(t)
	recs := importRecords(time.Now(), 3)
	rw := mustNode(t, url, jetlog.Options{})
	closed := mustNode(t, url, jetlog.Options{})
	if err := closed.Close(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		log  *jetlog.Log
		recs []eventlog.Record
		want error
	}{
		{"repeated id", rw, []eventlog.Record{recs[0], recs[1], recs[1]}, eventlog.ErrUnordered},
		{"decreasing ids", rw, []eventlog.Record{recs[2], recs[0]}, eventlog.ErrUnordered},
		{"zero id", rw, []eventlog.Record{{Data: []byte("x")}}, eventlog.ErrUnordered},
		{"read-only", mustNode(t, url, jetlog.Options{ReadOnly: true}), recs, eventlog.ErrReadOnly},
		{"closed", closed, recs, eventlog.ErrClosed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.log.Import(tt.recs); !errors.Is(err, tt.want) {
				t.Fatalf("import = %v, want %v", err, tt.want)
			}
		})
	}
	if seq := lastSeq(t, mustJetStream(t, url), "chateau"); seq != 0 {
		t.Fatalf("refused imports stored up to sequence %d", seq)
	}
}
