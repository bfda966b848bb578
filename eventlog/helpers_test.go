package eventlog_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chateau/chateau/eventlog"
	"github.com/chateau/chateau/migrations"
	"github.com/oklog/ulid/v2"
)

// mustOpenLog opens a log on a new file in t.TempDir; when the test ends it
// runs bbolt's consistency check on the file and closes the log.
func mustOpenLog(t testing.TB) (*eventlog.Log, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "chateau.db")
	return mustOpen(t, path, eventlog.Options{}), path
}

// mustOpen opens the log at path with opt and, when the test ends, checks
// and closes it. A test may close the log itself; Check then reports
// ErrClosed, which the cleanup accepts.
func mustOpen(t testing.TB, path string, opt eventlog.Options) *eventlog.Log {
	t.Helper()
	l, _, err := eventlog.Open(path, opt)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	t.Cleanup(func() {
		if err := l.Check(); err != nil && !errors.Is(err, eventlog.ErrClosed) {
			t.Errorf("bbolt check of %s: %v", path, err)
		}
		if err := l.Close(); err != nil {
			t.Errorf("close %s: %v", path, err)
		}
	})
	return l
}

// clock is a settable time source for Options.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock(t time.Time) *clock { return &clock{t: t} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// t0 is an arbitrary fixed instant for tests that control the clock.
var t0 = time.Date(2024, 5, 17, 12, 0, 0, 0, time.UTC)

// payloads returns n distinct payloads.
func payloads(n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = []byte(fmt.Sprintf("event %04d", i))
	}
	return out
}

// scanAll returns copies of the records after the given id.
func scanAll(t testing.TB, l *eventlog.Log, after ulid.ULID) []eventlog.Record {
	t.Helper()
	var recs []eventlog.Record
	err := l.Scan(after, func(rec eventlog.Record) error {
		recs = append(recs, eventlog.Record{ID: rec.ID, Data: bytes.Clone(rec.Data)})
		return nil
	})
	if err != nil {
		t.Fatalf("scan after %s: %v", after, err)
	}
	return recs
}

// fileSum returns the sha256 of the file at path.
func fileSum(t testing.TB, path string) [sha256.Size]byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return sha256.Sum256(data)
}

// Environment of the helper process that opens a damaged file; see
// openInChild.
const (
	helperPathEnv     = "EVENTLOG_TEST_HELPER_PATH"
	helperReadOnlyEnv = "EVENTLOG_TEST_HELPER_READONLY"
)

// TestHelperProcess_Open is not a test: openInChild runs the test binary
// with only this function selected, so that a damaged file that makes bbolt
// panic or fault cannot take the whole test binary down. It opens the file,
// scans it and checks it, printing one line per step.
func TestHelperProcess_Open(t *testing.T) {
	path := os.Getenv(helperPathEnv)
	if path == "" {
		t.Skip("helper process for the tests that open damaged files")
	}
	l, _, err := eventlog.Open(path, eventlog.Options{
		ReadOnly:    os.Getenv(helperReadOnlyEnv) != "",
		LockTimeout: 200 * time.Millisecond,
	})
	fmt.Printf("open: %s\n", classify(err))
	if err != nil {
		fmt.Printf("open error: %v\n", err)
		return
	}
	defer l.Close()
	n := 0
	err = l.Scan(ulid.ULID{}, func(eventlog.Record) error { n++; return nil })
	fmt.Printf("scan: %s %d\n", classify(err), n)
	if err != nil {
		fmt.Printf("scan error: %v\n", err)
	}
	err = l.Check()
	fmt.Printf("check: %s\n", map[bool]string{true: "ok", false: "error"}[err == nil])
}

// classify names the sentinel an error wraps.
func classify(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, eventlog.ErrCorrupt):
		return "corrupt"
	case errors.Is(err, migrations.ErrForeign):
		return "foreign"
	case errors.Is(err, migrations.ErrTooNew):
		return "too-new"
	case errors.Is(err, eventlog.ErrLocked):
		return "locked"
	case errors.Is(err, eventlog.ErrNeedsMigration):
		return "needs-migration"
	case errors.Is(err, eventlog.ErrNotExist):
		return "not-exist"
	}
	return "other"
}

// childResult is what the helper process reported.
type childResult struct {
	open    string // classify of Open's error
	scan    string // classify of Scan's error, if Open succeeded
	events  int    // records scanned
	check   string // "ok" or "error", if Check returned
	crashed bool   // the child exited abnormally (panic, fault, timeout)
	output  string // the child's combined output
}

// openInChild runs TestHelperProcess_Open on path in a separate process
// and reports the outcome. The child gets 30 seconds.
func openInChild(t *testing.T, path string, readOnly bool) childResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestHelperProcess_Open$", "-test.count=1")
	// GORACE: a race-enabled binary otherwise sleeps a second before exiting.
	cmd.Env = append(os.Environ(), helperPathEnv+"="+path, "GORACE=atexit_sleep_ms=0 "+os.Getenv("GORACE"))
	if readOnly {
		cmd.Env = append(cmd.Env, helperReadOnlyEnv+"=1")
	}
	out, err := cmd.CombinedOutput()
	res := childResult{output: string(out), crashed: err != nil}
	for _, line := range strings.Split(res.output, "\n") {
		switch {
		case strings.HasPrefix(line, "open: "):
			res.open = strings.TrimPrefix(line, "open: ")
		case strings.HasPrefix(line, "scan: "):
			if _, err := fmt.Sscanf(line, "scan: %s %d", &res.scan, &res.events); err != nil {
				t.Fatalf("helper process: bad line %q", line)
			}
		case strings.HasPrefix(line, "check: "):
			res.check = strings.TrimPrefix(line, "check: ")
		}
	}
	if !res.crashed && res.open == "" {
		t.Fatalf("helper process printed no result:\n%s", out)
	}
	return res
}

// firstLines returns at most n lines of s, for messages.
func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, "\n")
}
