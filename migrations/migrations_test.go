package migrations_test

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/chateau/chateau/migrations"
	bolt "go.etcd.io/bbolt"
)

// openDB opens (creating if needed) the bbolt file at path and closes it
// when the test ends, after checking its consistency.
func openDB(t testing.TB, path string) *bolt.DB {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	t.Cleanup(func() {
		if err := checkDB(db); err != nil {
			t.Errorf("bbolt check of %s: %v", path, err)
		}
		if err := db.Close(); err != nil {
			t.Errorf("close %s: %v", path, err)
		}
	})
	return db
}

// newDB opens a new bbolt file in t.TempDir and returns it with its path.
func newDB(t testing.TB) (*bolt.DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "chateau.db")
	return openDB(t, path), path
}

// checkDB runs bbolt's consistency check; a closed db passes.
func checkDB(db *bolt.DB) error {
	err := db.View(func(tx *bolt.Tx) error {
		var errs []error
		for err := range tx.Check() {
			errs = append(errs, err)
		}
		return errors.Join(errs...)
	})
	if errors.Is(err, bolt.ErrDatabaseNotOpen) {
		return nil
	}
	return err
}

// fileSum returns the sha256 of the file at path.
func fileSum(t testing.TB, path string) [sha256.Size]byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(data)
}

// version reads the recorded schema version.
func version(t testing.TB, db *bolt.DB) int {
	t.Helper()
	var v int
	err := db.View(func(tx *bolt.Tx) error {
		var err error
		v, err = migrations.Version(tx)
		return err
	})
	if err != nil {
		t.Fatalf("version: %v", err)
	}
	return v
}

// buckets lists the top-level buckets.
func buckets(t testing.TB, db *bolt.DB) []string {
	t.Helper()
	var names []string
	err := db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, _ *bolt.Bucket) error {
			names = append(names, string(name))
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// putVersion records v as the schema version, creating the meta bucket.
func putVersion(tx *bolt.Tx, v uint64) error {
	meta, err := tx.CreateBucketIfNotExists([]byte(migrations.MetaBucket))
	if err != nil {
		return err
	}
	var buf [8]byte
	binary.BigEndian.PutUint64(buf[:], v)
	return meta.Put([]byte(migrations.VersionKey), buf[:])
}

func applied(list []migrations.Migration) []migrations.Applied {
	var out []migrations.Applied
	for _, m := range list {
		out = append(out, migrations.Applied{Version: m.Version, Name: m.Name})
	}
	return out
}

func TestAll(t *testing.T) {
	all := migrations.All()
	if len(all) == 0 {
		t.Fatal("All() is empty")
	}
	for i, m := range all {
		if m.Version != i+1 {
			t.Errorf("migration %d has version %d, want %d", i, m.Version, i+1)
		}
		if m.Name == "" || m.Up == nil {
			t.Errorf("migration %d: name %q, Up nil: %v", m.Version, m.Name, m.Up == nil)
		}
	}
	if got := migrations.Latest(all); got != all[len(all)-1].Version {
		t.Errorf("Latest(All()) = %d, want %d", got, all[len(all)-1].Version)
	}
}

func TestLatest(t *testing.T) {
	tests := []struct {
		name string
		list []migrations.Migration
		want int
	}{
		{"nil", nil, 0},
		{"empty", []migrations.Migration{}, 0},
		{"one", []migrations.Migration{{Version: 1}}, 1},
		{"three", []migrations.Migration{{Version: 1}, {Version: 2}, {Version: 3}}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := migrations.Latest(tt.list); got != tt.want {
				t.Errorf("Latest = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestRun_New(t *testing.T) {
	db, path := newDB(t)
	if v := version(t, db); v != 0 {
		t.Fatalf("new file has version %d, want 0", v)
	}
	done, err := migrations.Run(db, migrations.All())
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if want := applied(migrations.All()); !slices.Equal(done, want) {
		t.Errorf("applied %v, want %v", done, want)
	}
	if v, want := version(t, db), migrations.Latest(migrations.All()); v != want {
		t.Errorf("version after Run = %d, want %d", v, want)
	}
	got := buckets(t, db)
	for _, b := range []string{migrations.MetaBucket, migrations.EventsBucket} {
		if !slices.Contains(got, b) {
			t.Errorf("bucket %q missing after Run; have %v", b, got)
		}
	}

	// A second run has nothing to do and does not write.
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	sum := fileSum(t, path)
	db = openDB(t, path)
	done, err = migrations.Run(db, migrations.All())
	if err != nil || len(done) != 0 {
		t.Errorf("second Run = %v, %v; want nothing applied and no error", done, err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if fileSum(t, path) != sum {
		t.Error("a Run with nothing to do changed the file")
	}
}

// testMigrations returns three migrations that each create a bucket named
// after their version and record, in order, the version the file had when
// they ran and their transaction's id. fail makes the given version fail
// after creating its bucket.
func testMigrations(seen *[]string, fail int) []migrations.Migration {
	var list []migrations.Migration
	for v := 1; v <= 3; v++ {
		list = append(list, migrations.Migration{
			Version: v,
			Name:    fmt.Sprintf("create bucket b%d", v),
			Up: func(tx *bolt.Tx) error {
				before, err := migrations.Version(tx)
				if err != nil {
					return err
				}
				*seen = append(*seen, fmt.Sprintf("v%d saw v%d in tx %d", v, before, tx.ID()))
				if _, err := tx.CreateBucket(fmt.Appendf(nil, "b%d", v)); err != nil {
					return err
				}
				if v == fail {
					return errFail
				}
				return nil
			},
		})
	}
	return list
}

var errFail = errors.New("test migration fails")

func TestRun_Order(t *testing.T) {
	db, _ := newDB(t)
	var seen []string
	list := testMigrations(&seen, 0)
	done, err := migrations.Run(db, list)
	if err != nil {
		t.Fatal(err)
	}
	if want := applied(list); !slices.Equal(done, want) {
		t.Errorf("applied %v, want %v", done, want)
	}
	// Each migration sees the version its predecessor committed, in a
	// transaction of its own: bbolt numbers write transactions in order.
	want := []string{"v1 saw v0 in tx 2", "v2 saw v1 in tx 3", "v3 saw v2 in tx 4"}
	if !slices.Equal(seen, want) {
		t.Errorf("migrations ran as %q, want %q", seen, want)
	}
	if v := version(t, db); v != 3 {
		t.Errorf("version = %d, want 3", v)
	}
	if got, want := buckets(t, db), []string{"b1", "b2", "b3", migrations.MetaBucket}; !slices.Equal(got, want) {
		t.Errorf("buckets %v, want %v", got, want)
	}
}

func TestRun_Fails(t *testing.T) {
	db, _ := newDB(t)
	var seen []string
	done, err := migrations.Run(db, testMigrations(&seen, 3))
	if !errors.Is(err, errFail) {
		t.Fatalf("Run = %v, want the third migration's error", err)
	}
	if want := applied(testMigrations(new([]string), 0)[:2]); !slices.Equal(done, want) {
		t.Errorf("applied %v, want the first two: %v", done, want)
	}
	if v := version(t, db); v != 2 {
		t.Errorf("version after a failed third migration = %d, want 2", v)
	}
	if got, want := buckets(t, db), []string{"b1", "b2", migrations.MetaBucket}; !slices.Equal(got, want) {
		t.Errorf("buckets %v, want %v (the third migration's bucket must be rolled back)", got, want)
	}

	// Fixed, the third migration runs alone.
	seen = nil
	done, err = migrations.Run(db, testMigrations(&seen, 0))
	if err != nil {
		t.Fatal(err)
	}
	if len(done) != 1 || done[0].Version != 3 || len(seen) != 1 {
		t.Errorf("rerun applied %v (ran %q), want only version 3", done, seen)
	}
	if v := version(t, db); v != 3 {
		t.Errorf("version = %d, want 3", v)
	}
}

func TestRun_Gap(t *testing.T) {
	db, _ := newDB(t)
	var seen []string
	list := testMigrations(&seen, 0)
	list = append(list[:1], list[2:]...) // versions 1 and 3
	done, err := migrations.Run(db, list)
	if err == nil {
		t.Fatal("Run of a list with a gap succeeded")
	}
	if len(done) != 1 || done[0].Version != 1 {
		t.Errorf("applied %v, want only version 1", done)
	}
	if v := version(t, db); v != 1 {
		t.Errorf("version = %d, want 1", v)
	}
}

func TestRun_TooNew(t *testing.T) {
	latest := migrations.Latest(migrations.All())
	tests := []struct {
		name    string
		version uint64
	}{
		{"next", uint64(latest) + 1},
		{"far", 1000},
		{"2^32", 1 << 32},
		{"2^62", 1 << 62},
		{"2^63", 1 << 63},
		{"max", ^uint64(0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "chateau.db")
			db := openDB(t, path)
			err := db.Update(func(tx *bolt.Tx) error {
				if _, err := tx.CreateBucket([]byte(migrations.EventsBucket)); err != nil {
					return err
				}
				return putVersion(tx, tt.version)
			})
			if err != nil {
				t.Fatal(err)
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			sum := fileSum(t, path)

			db = openDB(t, path)
			ran := false
			list := append(migrations.All(), migrations.Migration{
				Version: latest + 1, Name: "must not run",
				Up: func(*bolt.Tx) error { ran = true; return nil },
			})
			done, err := migrations.Run(db, list[:len(list)-1])
			if !errors.Is(err, migrations.ErrTooNew) {
				if tt.version > 1<<62 {
					t.Errorf("migrations.Version (migrations.go:91) converts the stored uint64 with int(), "+
						"so version %d reads as %d and is not refused with ErrTooNew; Run returns %v",
						tt.version, int(tt.version), err)
				}
				t.Errorf("Run = %v, want ErrTooNew", err)
			}
			if len(done) != 0 || ran {
				t.Errorf("Run applied %v (ran: %v) on a newer file", done, ran)
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			if fileSum(t, path) != sum {
				t.Error("Run changed a newer file")
			}
		})
	}
}

func TestRun_Foreign(t *testing.T) {
	tests := []struct {
		name string
		fill func(*bolt.Tx) error
	}{
		{"other bucket", func(tx *bolt.Tx) error {
			b, err := tx.CreateBucket([]byte("other"))
			if err != nil {
				return err
			}
			return b.Put([]byte("k"), []byte("v"))
		}},
		{"events without meta", func(tx *bolt.Tx) error {
			_, err := tx.CreateBucket([]byte(migrations.EventsBucket))
			return err
		}},
		{"meta without version", func(tx *bolt.Tx) error {
			_, err := tx.CreateBucket([]byte(migrations.MetaBucket))
			return err
		}},
		{"short version", func(tx *bolt.Tx) error {
			b, err := tx.CreateBucket([]byte(migrations.MetaBucket))
			if err != nil {
				return err
			}
			return b.Put([]byte(migrations.VersionKey), []byte{1})
		}},
		{"long version", func(tx *bolt.Tx) error {
			b, err := tx.CreateBucket([]byte(migrations.MetaBucket))
			if err != nil {
				return err
			}
			return b.Put([]byte(migrations.VersionKey), make([]byte, 9))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "foreign.db")
			db := openDB(t, path)
			if err := db.Update(tt.fill); err != nil {
				t.Fatal(err)
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			sum := fileSum(t, path)

			db = openDB(t, path)
			err := db.View(func(tx *bolt.Tx) error {
				_, err := migrations.Version(tx)
				return err
			})
			if !errors.Is(err, migrations.ErrForeign) {
				t.Errorf("Version = %v, want ErrForeign", err)
			}
			done, err := migrations.Run(db, migrations.All())
			if !errors.Is(err, migrations.ErrForeign) {
				t.Errorf("Run = %v, want ErrForeign", err)
			}
			if len(done) != 0 {
				t.Errorf("Run applied %v to a foreign file", done)
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			if fileSum(t, path) != sum {
				t.Error("Run changed a foreign file")
			}
		})
	}
}

func TestCheck(t *testing.T) {
	var seen []string
	three := testMigrations(&seen, 0)
	tests := []struct {
		name    string
		fill    func(*bolt.Tx) error
		list    []migrations.Migration
		want    int
		wantErr error
	}{
		{"new file", func(*bolt.Tx) error { return nil }, migrations.All(), 0, nil},
		{"current", func(tx *bolt.Tx) error { return putVersion(tx, 1) }, migrations.All(), 1, nil},
		{"older", func(tx *bolt.Tx) error { return putVersion(tx, 1) }, three, 1, nil},
		{"newer", func(tx *bolt.Tx) error { return putVersion(tx, 4) }, three, 4, migrations.ErrTooNew},
		{"empty list", func(tx *bolt.Tx) error { return putVersion(tx, 1) }, nil, 1, migrations.ErrTooNew},
		{"foreign", func(tx *bolt.Tx) error {
			_, err := tx.CreateBucket([]byte("other"))
			return err
		}, migrations.All(), 0, migrations.ErrForeign},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, path := newDB(t)
			if err := db.Update(tt.fill); err != nil {
				t.Fatal(err)
			}
			before := buckets(t, db)

			// In a read-only transaction: any write would fail.
			var got int
			err := db.View(func(tx *bolt.Tx) error {
				var err error
				got, err = migrations.Check(tx, tt.list)
				return err
			})
			if got != tt.want {
				t.Errorf("Check = %d, want %d", got, tt.want)
			}
			if !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
				t.Errorf("Check error = %v, want %v", err, tt.wantErr)
			}

			// In a write transaction, where a write would succeed: the
			// transaction sees no new bucket and the same version.
			err = db.Update(func(tx *bolt.Tx) error {
				_, _ = migrations.Check(tx, tt.list)
				var after []string
				_ = tx.ForEach(func(name []byte, _ *bolt.Bucket) error {
					after = append(after, string(name))
					return nil
				})
				if !slices.Equal(after, before) {
					return fmt.Errorf("buckets changed from %v to %v", before, after)
				}
				return errors.New("roll back")
			})
			if err == nil || err.Error() != "roll back" {
				t.Error(err)
			}
			if v, err := readVersion(db); v != tt.want && !errors.Is(err, migrations.ErrForeign) {
				t.Errorf("version after Check = %d (%v), want %d", v, err, tt.want)
			}

			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			sum := fileSum(t, path)
			db = openDB(t, path)
			if err := db.View(func(tx *bolt.Tx) error { _, err := migrations.Check(tx, tt.list); return err }); !errors.Is(err, tt.wantErr) {
				t.Errorf("Check after reopen = %v, want %v", err, tt.wantErr)
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			if fileSum(t, path) != sum {
				t.Error("Check changed the file")
			}
		})
	}
}

func readVersion(db *bolt.DB) (int, error) {
	var v int
	err := db.View(func(tx *bolt.Tx) error {
		var err error
		v, err = migrations.Version(tx)
		return err
	})
	return v, err
}
