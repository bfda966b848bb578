package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chateau/chateau/internal/natstest"
)

// TestBackup_Out: backup writes a new -out, refuses to replace an existing
// one (exit 1, the file untouched, no temporary file left), and replaces it
// with -force.
func TestBackup_Out(t *testing.T) {
	data, _ := mustWriteLog(t, sampleEvents()...)
	want := dumpOf(t, data)
	tests := []struct {
		name    string
		place   func(t *testing.T, out string) // puts something at out
		force   bool
		wantErr string // "" for a copy at out
	}{
		{"new file", func(*testing.T, string) {}, false, ""},
		{"existing file", mustWriteFile("mine"), false, "exists; give -force to replace it"},
		{"existing empty file", mustWriteFile(""), false, "exists; give -force"},
		{"dangling symlink", func(t *testing.T, out string) {
			if err := os.Symlink(filepath.Join(t.TempDir(), "nowhere"), out); err != nil {
				t.Fatal(err)
			}
		}, false, "exists; give -force"},
		{"existing file, -force", mustWriteFile("mine"), true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			out := filepath.Join(dir, "copy.db")
			tt.place(t, out)
			before, _ := os.Lstat(out)
			args := []string{"backup", "-data", data, "-out", out}
			if tt.force {
				args = append(args, "-force")
			}
			stdout, _, err := runMain(t, args...)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("backup: %v", err)
				}
				if got := dumpOf(t, out); !strings.Contains(stdout, "wrote ") || got != want {
					t.Fatalf("backup printed %q; dump of the copy:\n%s\nwant\n%s", stdout, got, want)
				}
			} else {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), out) {
					t.Fatalf("backup over %s: %v, want %q", tt.name, err, tt.wantErr)
				}
				if code := exitCode(err, io.Discard); code != 1 {
					t.Errorf("exit code %d, want 1", code)
				}
				if after, err := os.Lstat(out); err != nil || !os.SameFile(before, after) || after.ModTime() != before.ModTime() {
					t.Errorf("what was at -out was changed: %v", err)
				}
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 1 {
				t.Errorf("the directory of -out holds %d entries, want 1 (no temporary file left)", len(entries))
			}
		})
	}
}

// TestPlace_AppearedDuringCopy: a file that appears at -out while the copy
// is made is not replaced without -force.
func TestPlace_AppearedDuringCopy(t *testing.T) {
	dir := t.TempDir()
	tmp, out := filepath.Join(dir, "copy.db.tmp"), filepath.Join(dir, "copy.db")
	mustWriteFile("copy")(t, tmp)
	mustWriteFile("appeared")(t, out)
	if err := place(tmp, out, false); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Fatalf("place over a file that appeared: %v, want it refused", err)
	}
	if b, _ := os.ReadFile(out); string(b) != "appeared" {
		t.Fatalf("-out holds %q, want it untouched", b)
	}
}

// dumpOf returns `events dump` of the data file at path, run in-process.
func dumpOf(t *testing.T, path string) string {
	t.Helper()
	out, _, err := runMain(t, "events", "dump", "-data", path)
	if err != nil {
		t.Fatalf("dump of %s: %v", path, err)
	}
	return out
}

// mustWriteFile returns a function that writes content to a path.
func mustWriteFile(content string) func(t *testing.T, path string) {
	return func(t *testing.T, path string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// TestBackup_Stream: backup -nats writes a data file holding the stream's
// records, refuses an existing -out and replaces it with -force.
func TestBackup_Stream(t *testing.T) {
	url := natstest.Start(t).URL()
	mustAppendEvents(t, mustStreamLog(t, url), sampleEvents()...)
	want := dumpOfStream(t, url)
	out := filepath.Join(t.TempDir(), "backup.db")
	mustWriteFile("mine")(t, out)
	_, _, err := runMain(t, "backup", "-nats", url, "-out", out)
	if err == nil || !strings.Contains(err.Error(), "exists; give -force") || exitCode(err, io.Discard) != 1 {
		t.Fatalf("backup -nats over a file: %v, want it refused", err)
	}
	stdout, _, err := runMain(t, "backup", "-nats", url, "-out", out, "-force")
	if err != nil || !strings.HasPrefix(stdout, "copied 6 records from stream chateau") {
		t.Fatalf("backup -nats -force: %v, printed %q", err, stdout)
	}
	if got := dumpOf(t, out); got != want {
		t.Fatalf("dump of the backup:\n%s\nwant, as of the stream:\n%s", got, want)
	}
	if entries, _ := filepath.Glob(filepath.Join(filepath.Dir(out), "*")); len(entries) != 1 {
		t.Fatalf("the directory of -out holds %v, want the backup only", entries)
	}
}
