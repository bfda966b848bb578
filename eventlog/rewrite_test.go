package eventlog_test

import (
	"errors"
	"testing"

	"github.com/chateau/chateau/eventlog"
	"github.com/oklog/ulid/v2"
)

// records returns every record of l as id -> data.
func records(t *testing.T, l *eventlog.Log) map[ulid.ULID]string {
	t.Helper()
	got := make(map[ulid.ULID]string)
	if err := l.Scan(ulid.ULID{}, func(rec eventlog.Record) error {
		got[rec.ID] = string(rec.Data)
		return nil
	}); err != nil {
		t.Fatalf("scan: %v", err)
	}
	return got
}

func TestLog_AppendRewriting(t *testing.T) {
	l, _ := mustOpenLog(t)
	ids, err := l.Append([]byte("secret"), []byte("kept"))
	if err != nil {
		t.Fatal(err)
	}
	upper := func(old []byte) ([]byte, error) { return []byte("erased " + string(old[:1])), nil }
	same := func(old []byte) ([]byte, error) { return old, nil }
	fail := errors.New("no")
	tests := []struct {
		name     string
		rewrites []eventlog.Rewrite
		wantErr  error
		want     map[ulid.ULID]string
	}{
		{"missing record", []eventlog.Rewrite{{ID: ids[0], Edit: upper}, {ID: ulid.Make(), Edit: upper}}, eventlog.ErrNotFound,
			map[ulid.ULID]string{ids[0]: "secret", ids[1]: "kept"}},
		{"edit fails", []eventlog.Rewrite{{ID: ids[0], Edit: upper}, {ID: ids[1], Edit: func([]byte) ([]byte, error) { return nil, fail }}}, fail,
			map[ulid.ULID]string{ids[0]: "secret", ids[1]: "kept"}},
		{"rewritten", []eventlog.Rewrite{{ID: ids[0], Edit: upper}, {ID: ids[1], Edit: same}}, nil,
			map[ulid.ULID]string{ids[0]: "erased s", ids[1]: "kept"}},
	}
	for _, tt := range tests {
		before := len(records(t, l))
		added, err := l.AppendRewriting(tt.rewrites, []byte("deletion"))
		if !errors.Is(err, tt.wantErr) {
			t.Fatalf("%s: AppendRewriting = %v, want %v", tt.name, err, tt.wantErr)
		}
		got := records(t, l)
		if tt.wantErr != nil && len(got) != before {
			t.Errorf("%s: a failed rewrite stored its record: %d records, want %d", tt.name, len(got), before)
		}
		if tt.wantErr == nil && (len(added) != 1 || got[added[0]] != "deletion") {
			t.Errorf("%s: appended %v, records %v", tt.name, added, got)
		}
		for id, want := range tt.want {
			if got[id] != want {
				t.Errorf("%s: record %s = %q, want %q", tt.name, id, got[id], want)
			}
		}
	}
}
