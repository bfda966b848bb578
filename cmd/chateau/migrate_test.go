package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/chateau/chateau/internal/natstest"
	"github.com/chateau/chateau/projection"
	"github.com/nats-io/nats.go"
)

// TestMigrate_Stream: migrate -nats reads every record of a stream and
// says it is up to date; a missing stream, a stream Chateau cannot use and
// a record it cannot read are one line and exit 1.
func TestMigrate_Stream(t *testing.T) {
	url := natstest.Start(t).URL()
	l := mustStreamLog(t, url)
	mustAppendEvents(t, l, sampleEvents()...)
	out, _, err := runMain(t, "migrate", "-nats", url)
	if err != nil || !strings.HasPrefix(out, "stream chateau at ") || !strings.HasSuffix(out, " holds 6 records: up to date\n") {
		t.Fatalf("migrate -nats: %v, printed %q", err, out)
	}
	bad, err := l.Append([]byte{99, 1})
	if err != nil {
		t.Fatal(err)
	}
	weak := mustMemoryStream(t, url, "weak")
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"-stream", "none"}, "stream not found"},
		{[]string{"-stream", weak}, "storage is memory, not file"},
		{nil, "record 7: " + projection.ErrBadEvent.Error() + ": " + bad[0].String()},
	} {
		out, _, err := runMain(t, append([]string{"migrate", "-nats", url}, tt.args...)...)
		var stderr bytes.Buffer
		if code := exitCode(err, &stderr); code != 1 || !strings.Contains(stderr.String(), tt.want) || strings.Count(stderr.String(), "\n") != 1 || out != "" {
			t.Errorf("migrate %v: exit %d, stderr %q, printed %q; want 1 and one line with %q", tt.args, code, stderr.String(), out, tt.want)
		}
	}
}

// mustMemoryStream creates a stream named name held in memory, which
// Chateau refuses, and returns its name.
func mustMemoryStream(t *testing.T, url, name string) string {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := nc.JetStream()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.AddStream(&nats.StreamConfig{Name: name, Subjects: []string{name + ".>"}, Storage: nats.MemoryStorage}); err != nil {
		t.Fatal(err)
	}
	return name
}
