package migrations_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/chateau/chateau/migrations"
	bolt "go.etcd.io/bbolt"
)

// ExampleRun brings a new bbolt file to the latest layout; a second run
// finds nothing to do.
func ExampleRun() {
	dir, err := os.MkdirTemp("", "migrations-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	db, err := bolt.Open(filepath.Join(dir, "chateau.db"), 0o600, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	for run := 1; run <= 2; run++ {
		applied, err := migrations.Run(db, migrations.All())
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("run %d applied %d\n", run, len(applied))
		for _, a := range applied {
			fmt.Printf("  %d: %s\n", a.Version, a.Name)
		}
	}
	_ = db.View(func(tx *bolt.Tx) error {
		v, err := migrations.Version(tx)
		fmt.Println("version:", v, err)
		return nil
	})
	// Output:
	// run 1 applied 1
	//   1: create meta and events buckets
	// run 2 applied 0
	// version: 1 <nil>
}
