package eventlog_test

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/chateau/chateau/eventlog"
	"github.com/chateau/chateau/migrations"
	"github.com/oklog/ulid/v2"
	bolt "go.etcd.io/bbolt"
)

// TestLog_Append_IDs checks that ids increase strictly within a call, across
// calls and across a reopen, whatever the clock does, and that an id takes
// the clock's time unless the clock is behind the last id.
func TestLog_Append_IDs(t *testing.T) {
	type step struct {
		now    time.Time
		n      int  // events in this Append call
		reopen bool // close and reopen the log before this step
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"clock moves on", []step{
			{now: t0, n: 1}, {now: t0.Add(time.Millisecond), n: 1}, {now: t0.Add(time.Hour), n: 3},
		}},
		{"same millisecond", []step{
			{now: t0, n: 1}, {now: t0, n: 1}, {now: t0.Add(300 * time.Microsecond), n: 100}, {now: t0, n: 5},
		}},
		{"clock steps back", []step{
			{now: t0, n: 2}, {now: t0.Add(-time.Millisecond), n: 2}, {now: t0.Add(-24 * time.Hour), n: 10},
			{now: t0, n: 1}, {now: t0.Add(time.Millisecond), n: 1},
		}},
		{"reopen", []step{
			{now: t0, n: 3}, {now: t0, n: 3, reopen: true}, {now: t0.Add(time.Second), n: 1, reopen: true},
		}},
		{"reopen with clock back", []step{
			{now: t0, n: 3}, {now: t0.Add(-time.Hour), n: 3, reopen: true}, {now: t0.Add(-2 * time.Hour), n: 1, reopen: true},
		}},
		{"before the epoch", []step{
			{now: t0, n: 1}, {now: time.Unix(-1, 0), n: 2},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "chateau.db")
			clk := newClock(t0)
			opt := eventlog.Options{Now: clk.Now}
			l := mustOpen(t, path, opt)
			var all []ulid.ULID
			var want [][]byte
			var last ulid.ULID
			for i, s := range tt.steps {
				if s.reopen {
					if err := l.Close(); err != nil {
						t.Fatalf("step %d: close: %v", i, err)
					}
					l = mustOpen(t, path, opt)
					if got := l.Last(); got != last {
						t.Fatalf("step %d: Last after reopen = %s, want %s", i, got, last)
					}
				}
				clk.Set(s.now)
				data := payloads(s.n)
				for j := range data {
					data[j] = fmt.Appendf(data[j], " of step %d", i)
				}
				ids, err := l.Append(data...)
				if err != nil {
					t.Fatalf("step %d: append: %v", i, err)
				}
				if len(ids) != s.n {
					t.Fatalf("step %d: got %d ids for %d events", i, len(ids), s.n)
				}
				for j, id := range ids {
					if id.Compare(last) <= 0 {
						t.Fatalf("step %d: id %d = %s is not after %s", i, j, id, last)
					}
					wantMs := max(nowMs(s.now), last.Time())
					if id.Time() != wantMs {
						t.Errorf("step %d: id %d has time %d, want %d (max of clock and previous id)", i, j, id.Time(), wantMs)
					}
					last = id
				}
				if got := l.Last(); got != last {
					t.Errorf("step %d: Last = %s, want %s", i, got, last)
				}
				all = append(all, ids...)
				want = append(want, data...)
			}
			recs := scanAll(t, l, ulid.ULID{})
			if len(recs) != len(all) {
				t.Fatalf("scan returned %d records, want %d", len(recs), len(all))
			}
			for i, rec := range recs {
				if rec.ID != all[i] || !bytes.Equal(rec.Data, want[i]) {
					t.Errorf("record %d = %s %q, want %s %q", i, rec.ID, rec.Data, all[i], want[i])
				}
			}
		})
	}
}

// nowMs is the ULID timestamp of t, clamped at 0 for times before the epoch
// (which ulid.Timestamp cannot represent; Append then keeps the last time).
func nowMs(t time.Time) uint64 {
	if t.Before(time.Unix(0, 0)) {
		return 0
	}
	return ulid.Timestamp(t)
}

// TestLog_Append_RandomOverflow starts from a last id whose random part is
// all ones, so that the next id in the same millisecond must move on to the
// next millisecond.
func TestLog_Append_RandomOverflow(t *testing.T) {
	tests := []struct {
		name    string
		ms      uint64
		wantErr bool // Append may refuse instead of returning an id
	}{
		{"ordinary time", ulid.Timestamp(t0), false},
		// At the largest ULID time there is no next id: Append must fail
		// rather than store a record out of order.
		{"largest time", ulid.MaxTime(), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var full ulid.ULID
			if err := full.SetTime(tt.ms); err != nil {
				t.Fatal(err)
			}
			copy(full[6:], bytes.Repeat([]byte{0xff}, 10))
			path := filepath.Join(t.TempDir(), "chateau.db")
			l := mustOpen(t, path, eventlog.Options{Now: newClock(t0).Now})
			if _, err := l.Append([]byte("first")); err != nil {
				t.Fatal(err)
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			putRaw(t, path, full[:], []byte("planted"))

			l = mustOpen(t, path, eventlog.Options{Now: newClock(ulid.Time(tt.ms)).Now})
			if got := l.Last(); got != full {
				t.Fatalf("Last = %s, want the planted id %s", got, full)
			}
			ids, err := l.Append([]byte("next"))
			if err != nil {
				if tt.wantErr {
					return
				}
				t.Fatalf("append: %v", err)
			}
			if ids[0].Compare(full) <= 0 {
				if tt.wantErr {
					t.Errorf("eventlog.go next(): at ulid.MaxTime with a full random part, "+
						"ulid.New(last.Time()+1) fails, its error is ignored and the zero ULID is "+
						"appended (got %s after %s)", ids[0], full)
				}
				t.Fatalf("Append returned %s, not after %s", ids[0], full)
			}
			if ids[0].Time() != tt.ms+1 {
				t.Errorf("id after a full millisecond has time %d, want %d", ids[0].Time(), tt.ms+1)
			}
		})
	}
}

// putRaw stores key=value in the events bucket of the closed log at path,
// with bbolt directly.
func putRaw(t testing.TB, path string, key, value []byte) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte(migrations.EventsBucket)).Put(key, value)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestLog_Append_None(t *testing.T) {
	l, _ := mustOpenLog(t)
	first, err := l.Append([]byte("a"))
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range [][][]byte{nil, {}} {
		ids, err := l.Append(args...)
		if err != nil || len(ids) != 0 {
			t.Errorf("Append(%d args) = %v, %v; want no ids and no error", len(args), ids, err)
		}
	}
	if got := l.Last(); got != first[0] {
		t.Errorf("Last after empty appends = %s, want %s", got, first[0])
	}
	if recs := scanAll(t, l, ulid.ULID{}); len(recs) != 1 {
		t.Errorf("log has %d records after empty appends, want 1", len(recs))
	}
}

func TestLog_Append_Data(t *testing.T) {
	l, path := mustOpenLog(t)
	data := [][]byte{
		{},
		[]byte("x"),
		bytes.Repeat([]byte{0, 0xff}, 5000), // larger than a page
		[]byte("héllo, 世界"),
	}
	ids, err := l.Append(data...)
	if err != nil {
		t.Fatal(err)
	}
	// The caller may reuse its buffers once Append returns.
	for _, d := range data {
		for i := range d {
			d[i] = '!'
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = mustOpen(t, path, eventlog.Options{ReadOnly: true})
	recs := scanAll(t, l, ulid.ULID{})
	want := [][]byte{{}, []byte("x"), bytes.Repeat([]byte{0, 0xff}, 5000), []byte("héllo, 世界")}
	if len(recs) != len(want) {
		t.Fatalf("got %d records, want %d", len(recs), len(want))
	}
	for i, rec := range recs {
		if rec.ID != ids[i] || !bytes.Equal(rec.Data, want[i]) {
			t.Errorf("record %d = %s (%d bytes), want %s (%d bytes)", i, rec.ID, len(rec.Data), ids[i], len(want[i]))
		}
	}
}

func TestLog_Scan(t *testing.T) {
	path := filepath.Join(t.TempDir(), "chateau.db")
	clk := newClock(t0)
	l := mustOpen(t, path, eventlog.Options{Now: clk.Now})
	data := payloads(10)
	var ids []ulid.ULID
	// One millisecond per record, so that there is room between ids.
	for i, d := range data {
		clk.Set(t0.Add(time.Duration(i) * time.Millisecond))
		got, err := l.Append(d)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, got[0])
	}
	between := ids[4] // after ids[4], before ids[5]
	copy(between[6:], bytes.Repeat([]byte{0xff}, 10))
	var before ulid.ULID // before every record
	if err := before.SetTime(ulid.Timestamp(t0) - 1); err != nil {
		t.Fatal(err)
	}
	var maxID ulid.ULID
	copy(maxID[:], bytes.Repeat([]byte{0xff}, 16))

	tests := []struct {
		name  string
		after ulid.ULID
		first int // index of the first record expected
	}{
		{"from zero", ulid.ULID{}, 0},
		{"before the first", before, 0},
		{"after the first", ids[0], 1},
		{"after a middle one", ids[3], 4},
		{"between two", between, 5},
		{"after the last", ids[9], 10},
		{"after every id", maxID, 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recs := scanAll(t, l, tt.after)
			if len(recs) != len(ids)-tt.first {
				t.Fatalf("scan after %s returned %d records, want %d", tt.after, len(recs), len(ids)-tt.first)
			}
			for i, rec := range recs {
				j := tt.first + i
				if rec.ID != ids[j] || !bytes.Equal(rec.Data, data[j]) {
					t.Errorf("record %d = %s %q, want %s %q", i, rec.ID, rec.Data, ids[j], data[j])
				}
			}
		})
	}
}

func TestLog_Scan_Error(t *testing.T) {
	l, _ := mustOpenLog(t)
	if _, err := l.Append(payloads(10)...); err != nil {
		t.Fatal(err)
	}
	stop := errors.New("stop here")
	for _, n := range []int{1, 3, 10} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			calls := 0
			err := l.Scan(ulid.ULID{}, func(eventlog.Record) error {
				calls++
				if calls == n {
					return fmt.Errorf("record %d: %w", calls, stop)
				}
				return nil
			})
			if !errors.Is(err, stop) {
				t.Errorf("Scan returned %v, want the callback's error", err)
			}
			if calls != n {
				t.Errorf("callback called %d times, want %d (the scan must stop at the error)", calls, n)
			}
		})
	}
}

// TestLog_Scan_CallbackPanic: a panic in the caller's fn is the caller's
// bug, not damage to the file; it must reach the caller as a panic, and the
// log must stay usable.
func TestLog_Scan_CallbackPanic(t *testing.T) {
	l, _ := mustOpenLog(t)
	if _, err := l.Append(payloads(3)...); err != nil {
		t.Fatal(err)
	}
	type callerBug struct{}
	var (
		recovered any
		err       error
	)
	func() {
		defer func() { recovered = recover() }()
		err = l.Scan(ulid.ULID{}, func(eventlog.Record) error { panic(callerBug{}) })
	}()
	// The log is still usable: the read transaction was released.
	if _, err := l.Append([]byte("after")); err != nil {
		t.Errorf("append after a panicking scan: %v", err)
	}
	if recs := scanAll(t, l, ulid.ULID{}); len(recs) != 4 {
		t.Errorf("log has %d records, want 4", len(recs))
	}
	if recovered == nil && errors.Is(err, eventlog.ErrCorrupt) {
		t.Errorf("Log.Scan (eventlog.go, defer catchCorrupt in Scan) recovers a panic in the "+
			"caller's fn and returns it as ErrCorrupt: %v", err)
	}
	if _, ok := recovered.(callerBug); !ok {
		t.Errorf("Scan with a panicking fn: recovered %v, returned %v; want the caller's panic", recovered, err)
	}
}

func TestLog_Closed(t *testing.T) {
	l, _ := mustOpenLog(t)
	if _, err := l.Append([]byte("a")); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	tests := []struct {
		name string
		call func() error
	}{
		{"Append", func() error { _, err := l.Append([]byte("b")); return err }},
		{"Append many", func() error { _, err := l.Append([]byte("b"), []byte("c")); return err }},
		{"Scan", func() error {
			return l.Scan(ulid.ULID{}, func(eventlog.Record) error { return errors.New("callback called") })
		}},
		{"Check", l.Check},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); !errors.Is(err, eventlog.ErrClosed) {
				t.Errorf("%s after Close = %v, want ErrClosed", tt.name, err)
			}
		})
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close = %v, want nil", err)
	}
}

// TestOpen_Migrations opens a file with an extra migration and then with a
// binary that does not know it.
// TestOpen_Corrupt opens files that are not bbolt databases, or truncated
// copies of a real log, in a child process (a damaged file may make bbolt
// panic or fault). Open must return ErrCorrupt and leave the file alone.
// realLog writes a log of 200 events of 100 bytes, closes it and returns
// its bytes, the bytes its pages use (bbolt's high-water mark, which may be
// less than the file's size) and its page size.
// boltPages returns the type of every page below the high-water mark of
// the bbolt file at path ("meta", "freelist", "branch", "leaf", "free" or
// "" for the continuation of an overflowing page).
// TestOpen_DamagedPage zeroes one page of a real log at a time, and opens,
// scans and checks the result in a child process. Each step must return an
// error rather than crash, and a scan that finds damage means the check
// must find it too.
// TestOpen_DamagedFreelist: bbolt panics inside bolt.Open on a file whose
// freelist page is damaged. Open must return ErrCorrupt and let go of the
// file, so that the next Open reports the damage again rather than a lock.
// makeBolt creates a bbolt file at path and runs fill in one transaction.
// TestOpen_Foreign opens bbolt files that Chateau did not write, or whose
// layout is damaged, in a child process. Open must refuse them and leave
// them alone.
// TestOpen_Foreign_InProcess checks the error chain itself: a foreign file
// fails with an error wrapping migrations.ErrForeign and is not modified.
// TestLog_Append_Concurrent appends from several goroutines while others
// scan; run it with -race.
func TestLog_Append_Concurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "chateau.db")
	l := mustOpen(t, path, eventlog.Options{UnsafeNoSync: true})
	const writers, calls = 8, 25
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		ids   = map[ulid.ULID][]byte{}
		errs  = make(chan error, writers*calls+writers)
		done  = make(chan struct{})
		total int
	)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var prev ulid.ULID
			for c := range calls {
				n := 1 + (w+c)%3
				data := make([][]byte, n)
				for i := range data {
					data[i] = fmt.Appendf(nil, "writer %d call %d event %d", w, c, i)
				}
				got, err := l.Append(data...)
				if err != nil {
					errs <- err
					continue
				}
				mu.Lock()
				for i, id := range got {
					if _, dup := ids[id]; dup {
						errs <- fmt.Errorf("duplicate id %s", id)
					}
					ids[id] = data[i]
					if id.Compare(prev) <= 0 {
						errs <- fmt.Errorf("writer %d: id %s not after its previous %s", w, id, prev)
					}
					prev = id
				}
				total += n
				mu.Unlock()
			}
		}()
	}
	// Readers scan while the writers append; each scan must see a prefix
	// of the log in order.
	var readers sync.WaitGroup
	for range 2 {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				var prev ulid.ULID
				err := l.Scan(ulid.ULID{}, func(rec eventlog.Record) error {
					if rec.ID.Compare(prev) <= 0 {
						return fmt.Errorf("scan: %s not after %s", rec.ID, prev)
					}
					prev = rec.ID
					return nil
				})
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(done)
	readers.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if len(ids) != total {
		t.Fatalf("%d distinct ids for %d events", len(ids), total)
	}
	recs := scanAll(t, l, ulid.ULID{})
	if len(recs) != total {
		t.Fatalf("log has %d records, want %d", len(recs), total)
	}
	for i, rec := range recs {
		if i > 0 && rec.ID.Compare(recs[i-1].ID) <= 0 {
			t.Errorf("record %d out of order", i)
		}
		if want, ok := ids[rec.ID]; !ok || !bytes.Equal(rec.Data, want) {
			t.Errorf("record %s = %q, want %q (returned by Append: %v)", rec.ID, rec.Data, want, ok)
		}
	}
	if got := l.Last(); got != recs[len(recs)-1].ID {
		t.Errorf("Last = %s, want %s", got, recs[len(recs)-1].ID)
	}
}

// TestLog_Close_Concurrent closes the log while appends are running: each
// Append either succeeds (and its records are in the file) or returns
// ErrClosed.
func TestLog_Close_Concurrent(t *testing.T) {
	l, path := mustOpenLog(t)
	var wg sync.WaitGroup
	appended := make(chan ulid.ULID, 1000)
	errs := make(chan error, 1000)
	started := make(chan struct{}, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			started <- struct{}{}
			for {
				ids, err := l.Append([]byte("x"))
				if errors.Is(err, eventlog.ErrClosed) {
					return
				}
				if err != nil {
					errs <- err
					return
				}
				appended <- ids[0]
				if len(appended) > 900 {
					return
				}
			}
		}()
	}
	for range 4 {
		<-started
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	close(errs)
	close(appended)
	for err := range errs {
		t.Errorf("Append during Close: %v", err)
	}
	want := map[ulid.ULID]bool{}
	for id := range appended {
		want[id] = true
	}
	l2 := mustOpen(t, path, eventlog.Options{ReadOnly: true})
	recs := scanAll(t, l2, ulid.ULID{})
	if len(recs) != len(want) {
		t.Errorf("file has %d records, %d appends succeeded", len(recs), len(want))
	}
	for _, rec := range recs {
		if !want[rec.ID] {
			t.Errorf("record %s in the file was not acknowledged", rec.ID)
		}
	}
}

func BenchmarkLog_Append(b *testing.B) {
	event := bytes.Repeat([]byte("0123456789"), 10) // 100 bytes
	for _, size := range []int{1, 10, 100, 1000} {
		b.Run(fmt.Sprintf("batch=%d", size), func(b *testing.B) {
			l, _ := mustOpenLog(b)
			batch := make([][]byte, size)
			for i := range batch {
				batch[i] = event
			}
			b.SetBytes(int64(size * len(event)))
			b.ReportAllocs()
			took := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for range b.N {
				start := time.Now()
				if _, err := l.Append(batch...); err != nil {
					b.Fatal(err)
				}
				took = append(took, time.Since(start))
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N*size)/b.Elapsed().Seconds(), "events/s")
			// A commit's tail is the disk's: what a request waits at light load.
			slices.Sort(took)
			b.ReportMetric(float64(took[len(took)/2])/1e6, "p50-ms")
			b.ReportMetric(float64(took[len(took)*99/100])/1e6, "p99-ms")
		})
	}
}

func TestLog_Get(t *testing.T) {
	l, _ := mustOpenLog(t)
	ids, err := l.Append(payloads(5)...)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	err = l.Get([]ulid.ULID{ids[3], ids[0]}, func(rec eventlog.Record) error {
		got = append(got, rec.ID.String()+"="+string(rec.Data))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{ids[3].String() + "=" + string(payloads(5)[3]), ids[0].String() + "=" + string(payloads(5)[0])}
	if !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	missing := ids[4]
	missing[15]++
	if err := l.Get([]ulid.ULID{missing}, func(eventlog.Record) error { return nil }); !errors.Is(err, eventlog.ErrNotFound) {
		t.Fatalf("missing id: %v", err)
	}
	l.Close()
	if err := l.Get(ids, func(eventlog.Record) error { return nil }); !errors.Is(err, eventlog.ErrClosed) {
		t.Fatalf("after close: %v", err)
	}
}

// TestLog_Append_PagesFull checks that appends fill the log's pages: its
// keys only grow, so a half-filled page would stay half empty.
func TestLog_Append_PagesFull(t *testing.T) {
	for _, batch := range []int{1, 100} {
		t.Run(fmt.Sprintf("batch %d", batch), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "chateau.db")
			l, _, err := eventlog.Open(path, eventlog.Options{UnsafeNoSync: true})
			if err != nil {
				t.Fatal(err)
			}
			data := make([][]byte, batch)
			for i := range data {
				data[i] = bytes.Repeat([]byte{'x'}, 100)
			}
			for n := 0; n < 5000; n += batch {
				if _, err := l.Append(data...); err != nil {
					t.Fatal(err)
				}
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			err = db.View(func(tx *bolt.Tx) error {
				s := tx.Bucket([]byte(migrations.EventsBucket)).Stats()
				if fill := float64(s.LeafInuse) / float64(s.LeafAlloc); fill < 0.9 {
					t.Errorf("leaf pages %.0f%% full (%d of %d bytes in %d pages), want at least 90%%",
						fill*100, s.LeafInuse, s.LeafAlloc, s.LeafPageN)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}
