package main

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chateau/chateau/migrations"
	bolt "go.etcd.io/bbolt"
)

func errorsAs(err error, target any) bool { return errors.As(err, target) }

func fileSum(t *testing.T, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

// TestBadDataFiles runs each command on files it must refuse: the error is
// one line and the file is left untouched.
func TestBadDataFiles(t *testing.T) {
	dir := t.TempDir()
	newer := filepath.Join(dir, "newer.db")
	db, err := bolt.Open(newer, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := migrations.Run(db, migrations.All()); err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte(migrations.MetaBucket)).Put([]byte(migrations.VersionKey), []byte{0, 0, 0, 0, 0, 0, 0, 99})
	})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()

	foreign := filepath.Join(dir, "foreign.db")
	db, err = bolt.Open(foreign, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("other")); return err })
	db.Close()

	garbage := filepath.Join(dir, "garbage.db")
	if err := os.WriteFile(garbage, []byte(strings.Repeat("not a database ", 1000)), 0o600); err != nil {
		t.Fatal(err)
	}
	path, _ := mustWriteLog(t, sampleEvents()...)
	whole, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	truncated := filepath.Join(dir, "truncated.db")
	if err := os.WriteFile(truncated, whole[:len(whole)/3], 0o600); err != nil {
		t.Fatal(err)
	}

	files := []struct{ name, path, want string }{
		{"newer", newer, "newer"},
		{"foreign", foreign, "not a Chateau data file"},
		{"garbage", garbage, "corrupt"},
		{"truncated", truncated, ""},
	}
	commands := [][]string{{"migrate"}, {"events", "dump"}, {"serve", "-addr", "127.0.0.1:0"}}
	for _, f := range files {
		for _, cmd := range commands {
			t.Run(f.name+"/"+strings.Join(cmd, " "), func(t *testing.T) {
				before := fileSum(t, f.path)
				start := time.Now()
				_, _, err := runMain(t, append(cmd, "-data", f.path)...)
				if err == nil {
					t.Fatal("no error")
				}
				if !strings.Contains(err.Error(), f.want) || strings.Contains(err.Error(), "\n") {
					t.Errorf("error %q: want one line containing %q", err, f.want)
				}
				if d := time.Since(start); d > lockRefusal {
					t.Errorf("took %v", d)
				}
				if fileSum(t, f.path) != before {
					t.Error("the file was modified")
				}
			})
		}
	}
}

// TestDataFile_EmptyOrDirectory: an empty file or a directory given as
// -data is called what it is, by every command that opens it: one line,
// exit 1, nothing called corrupt, no new log made in its place, nothing
// written.
func TestDataFile_EmptyOrDirectory(t *testing.T) {
	files := []struct {
		name string
		make func(t *testing.T, path string)
		want string
	}{
		{"empty", mustWriteFile(""), "data file is empty (0 bytes), not a Chateau data file: %s; remove it to start a new log, or restore a backup"},
		{"directory", func(t *testing.T, path string) {
			if err := os.Mkdir(path, 0o700); err != nil {
				t.Fatal(err)
			}
		}, "read %s: is a directory"},
	}
	commands := [][]string{{"migrate"}, {"events", "dump"}, {"serve", "-addr", "127.0.0.1:0"}, {"backup"}}
	for _, f := range files {
		for _, cmd := range commands {
			t.Run(f.name+"/"+strings.Join(cmd, " "), func(t *testing.T) {
				dir := t.TempDir()
				path := filepath.Join(dir, "chateau.db")
				f.make(t, path)
				args := append([]string{}, cmd...)
				if cmd[0] == "backup" {
					args = []string{"backup", "-out", filepath.Join(dir, "copy.db")}
				}
				// serve would run until ctx ends on a file it accepts.
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				err := (&Main{Stdout: io.Discard, Stderr: io.Discard}).Run(ctx, append(args, "-data", path))
				if want := fmt.Sprintf(f.want, path); err == nil || oneLine(err) != err.Error() || !strings.Contains(err.Error(), want) {
					t.Fatalf("error %v; want one line with %q", err, want)
				}
				if strings.Contains(err.Error(), "corrupt") {
					t.Errorf("error %q calls it corrupt", err)
				}
				if code := exitCode(err, io.Discard); code != 1 {
					t.Errorf("exit code %d, want 1", code)
				}
				if entries, _ := os.ReadDir(dir); len(entries) != 1 {
					t.Errorf("the data file's directory holds %d entries, want only the data file", len(entries))
				}
				if entries, _ := os.ReadDir(path); len(entries) != 0 {
					t.Errorf("the directory given as -data holds %d entries, want none", len(entries))
				}
				if info, err := os.Stat(path); err != nil || info.Size() != 0 && info.Mode().IsRegular() {
					t.Errorf("the data file was written (stat %v)", err)
				}
			})
		}
	}
}

func TestMigrate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "new.db")
	out, _, err := runMain(t, "migrate", "-data", path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "applied migration 1") {
		t.Fatalf("first run printed %q", out)
	}
	out, _, err = runMain(t, "migrate", "-data", path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, "applied") || !strings.Contains(out, "schema version 1") {
		t.Fatalf("second run printed %q", out)
	}
}

func TestDump_MissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing.db")
	if _, _, err := runMain(t, "events", "dump", "-data", path); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("got %v", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("dump created the file")
	}
}

func TestMain_Usage(t *testing.T) {
	for _, args := range [][]string{nil, {"nope"}, {"events"}, {"events", "list"}, {"serve", "-nope"}, {"migrate", "x"}} {
		_, _, err := runMain(t, args...)
		var ue *usageError
		if !errors.As(err, &ue) {
			t.Errorf("%v: got %v, want a usage error", args, err)
		}
	}
	for _, arg := range []string{"version", "--version", "-version"} {
		out, _, err := runMain(t, arg)
		if err != nil || out != "chateau "+Version+"\n" {
			t.Errorf("%s: %q, %v; want %q", arg, out, err, "chateau "+Version+"\n")
		}
	}
}

// TestServe_DiskFull starts the server on a new data file on a full disk
// (a link to /dev/full, which fails every write with ENOSPC): the one-line
// error names the cause and calls nothing corrupt.
func TestServe_DiskFull(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skipf("no /dev/full: %v", err)
	}
	path := filepath.Join(t.TempDir(), "chateau.db")
	if err := os.Symlink("/dev/full", path); err != nil {
		t.Fatal(err)
	}
	_, _, err := runMain(t, "serve", "-addr", "127.0.0.1:0", "-data", path)
	if err == nil || !strings.Contains(err.Error(), "no space left on device") || strings.Contains(err.Error(), "corrupt") {
		t.Fatalf("serve on a full disk: %v, want no space left on device", err)
	}
	if code := exitCode(err, io.Discard); code != 1 {
		t.Errorf("exit code %d, want 1", code)
	}
}
