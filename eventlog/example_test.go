package eventlog_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/chateau/chateau/eventlog"
	"github.com/oklog/ulid/v2"
)

// ExampleLog_Append opens a log on a new file, appends three events in one
// transaction and reads them back, first from the start and then after the
// first id.
func ExampleLog_Append() {
	dir, err := os.MkdirTemp("", "eventlog-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	l, applied, err := eventlog.Open(filepath.Join(dir, "chateau.db"), eventlog.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()
	for _, m := range applied {
		fmt.Printf("migrated to version %d: %s\n", m.Version, m.Name)
	}

	ids, err := l.Append([]byte("alice registered"), []byte("bob registered"), []byte("alice -> bob: hi"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("appended", len(ids), "events; ids increase:", ids[0].Compare(ids[1]) < 0 && ids[1].Compare(ids[2]) < 0)

	print := func(rec eventlog.Record) error {
		fmt.Printf("  %s\n", rec.Data) // rec.Data is valid only during the call
		return nil
	}
	fmt.Println("from the start:")
	if err := l.Scan(ulid.ULID{}, print); err != nil {
		log.Fatal(err)
	}
	fmt.Println("after the first:")
	if err := l.Scan(ids[0], print); err != nil {
		log.Fatal(err)
	}
	// Output:
	// migrated to version 1: create meta and events buckets
	// appended 3 events; ids increase: true
	// from the start:
	//   alice registered
	//   bob registered
	//   alice -> bob: hi
	// after the first:
	//   bob registered
	//   alice -> bob: hi
}
