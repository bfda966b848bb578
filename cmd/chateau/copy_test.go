package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chateau/chateau/eventlog"
	"github.com/chateau/chateau/internal/natstest"
)

// TestCopy_RoundTrip copies a data file into a stream and the stream into
// a new file: events dump of the three prints the same bytes, ids
// included, in both formats.
func TestCopy_RoundTrip(t *testing.T) {
	data, ids := mustWriteLog(t, sampleEvents()...)
	url := natstest.Start(t).URL()
	if out := mustCopyToStream(t, data, url); !strings.HasPrefix(out, "copied 6 records from "+data+" to stream chateau at ") {
		t.Fatalf("copy-to-stream printed %q", out)
	}
	copied := filepath.Join(t.TempDir(), "back.db")
	out, _, err := runMain(t, "copy-to-file", "-nats", url, "-out", copied)
	if err != nil || !strings.HasPrefix(out, "copied 6 records from stream chateau at ") || !strings.HasSuffix(out, " to "+copied+"\n") {
		t.Fatalf("copy-to-file: %v, printed %q", err, out)
	}
	for _, format := range []string{"json", "text"} {
		want, _, err := runMain(t, "events", "dump", "-data", data, "-format", format)
		if err != nil || strings.Count(want, "\n") != len(ids) || !strings.Contains(want, ids[5].String()) {
			t.Fatalf("dump of the file: %v\n%s", err, want)
		}
		for _, src := range [][]string{{"-nats", url}, {"-data", copied}} {
			got, _, err := runMain(t, append([]string{"events", "dump", "-format", format}, src...)...)
			if err != nil || got != want {
				t.Errorf("dump %v: %v\n%s\nwant, as of the file:\n%s", src, err, got, want)
			}
		}
	}
}

// TestCopyToStream_Refused: a stream that is not empty, a data file a
// server holds, and missing or bad flags are refused, with one line, and
// nothing is added to the stream.
func TestCopyToStream_Refused(t *testing.T) {
	data, _ := mustWriteLog(t, sampleEvents()...)
	url := natstest.Start(t).URL()
	mustCopyToStream(t, data, url)
	locked, _ := mustWriteLog(t, sampleEvents()...)
	held, _, err := eventlog.Open(locked, eventlog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"not empty", []string{"-data", data, "-nats", url, "-replicas", "1"}, 1, "the stream is not empty: its last sequence is 6"},
		{"locked", []string{"-data", locked, "-nats", url, "-replicas", "1"}, 1, "is a chateau server running on it?"},
		{"no file", []string{"-data", filepath.Join(t.TempDir(), "none.db"), "-nats", url}, 1, "data file does not exist"},
		{"no -nats", []string{"-data", data}, 2, "-nats is required"},
		{"replicas", []string{"-data", data, "-nats", url, "-replicas", "7"}, 2, "-replicas must be between 1 and 5"},
		{"no server", []string{"-data", data, "-nats", "nats://u:secret@127.0.0.1:1"}, 1, "connect to NATS at nats://redacted@127.0.0.1:1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, _, err := runMain(t, append([]string{"copy-to-stream"}, tt.args...)...)
			var stderr bytes.Buffer
			code := exitCode(err, &stderr)
			if code != tt.code || !strings.Contains(stderr.String(), tt.want) || strings.Count(stderr.String(), "\n") != 1 || out != "" {
				t.Fatalf("exit %d, stderr %q, printed %q; want %d and one line with %q", code, stderr.String(), out, tt.code, tt.want)
			}
			if strings.Contains(stderr.String(), "secret") {
				t.Fatalf("the error shows the password: %s", stderr.String())
			}
		})
	}
	if got, want := dumpOfStream(t, url), dumpOf(t, data); got != want {
		t.Fatalf("the stream after refused copies:\n%s\nwant\n%s", got, want)
	}
}

// mustCopyToStream copies the data file at data into the stream "chateau"
// at url, of one replica, and returns what the command printed.
func mustCopyToStream(t *testing.T, data, url string) string {
	t.Helper()
	out, _, err := runMain(t, "copy-to-stream", "-data", data, "-nats", url, "-replicas", "1")
	if err != nil {
		t.Fatalf("copy-to-stream: %v", err)
	}
	return out
}
