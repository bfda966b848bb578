package main

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestServe_Usage pins serve's flags, which are a contract: their names,
// environment variables, defaults and help, as `serve -h` prints them.
// After a deliberate change, regenerate testdata/serve-usage.txt with
// `go run ./cmd/chateau serve -h` and update the README (Command line,
// Security and limits) in the same commit.
func TestServe_Usage(t *testing.T) {
	out, _, err := runMain(t, "serve", "-h")
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("serve -h: %v", err)
	}
	want, err := os.ReadFile(filepath.Join("testdata", "serve-usage.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if out != string(want) {
		t.Errorf("serve -h printed\n%s\nwant\n%s", out, want)
	}
}

// TestServe_BadFlags checks that each bad value is a one-line usage error
// given before anything is opened or created.
func TestServe_BadFlags(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"-rate-limit", "-1"}, "-rate-limit must not be negative"},
		{[]string{"-rate-limit", "5", "-rate-burst", "0"}, "-rate-burst must be at least 1"},
		{[]string{"-max-conns", "-1"}, "-max-conns must not be negative"},
		{[]string{"-max-frame-bytes", "1023"}, "-max-frame-bytes must be at least 1024"},
		{[]string{"-max-content-bytes", "0"}, "-max-content-bytes must be between 1 and -max-frame-bytes"},
		{[]string{"-max-frame-bytes", "2048", "-max-content-bytes", "2049"}, "-max-content-bytes must be between 1 and -max-frame-bytes"},
		{[]string{"-send-queue", "0"}, "-send-queue must be at least 1"},
		{[]string{"-log-level", "loud"}, "-log-level"},
		{[]string{"-log-format", "xml"}, "-log-format must be text or json"},
		{[]string{"extra"}, `unexpected argument "extra"`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			data := filepath.Join(t.TempDir(), "chateau.db")
			_, _, err := runMain(t, append([]string{"serve", "-addr", "127.0.0.1:0", "-data", data}, tt.args...)...)
			var ue *usageError
			if !errors.As(err, &ue) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want a usage error containing %q", err, tt.want)
			}
			if _, err := os.Stat(data); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the data file was created (stat: %v)", err)
			}
		})
	}
}
