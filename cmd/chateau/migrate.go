package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/chateau/chateau/eventlog"
	"github.com/chateau/chateau/migrations"
	"github.com/chateau/chateau/projection"
	"github.com/oklog/ulid/v2"
)

// MigrateCommand applies pending migrations to a data file, or checks
// that a stream's log is one this binary serves.
type MigrateCommand struct {
	Stdout, Stderr io.Writer
}

// Run parses args and migrates the file, printing each step applied.
func (c *MigrateCommand) Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	data := fs.String("data", "chateau.db", "data file")
	var stream streamFlags
	stream.register(fs, "check the stream -stream instead of -data: its configuration, and that this binary reads every record")
	if err := parseFlags(fs, args, c.Stdout); err != nil {
		return err
	}
	if stream.set() {
		return c.checkStream(ctx, stream)
	}
	l, applied, err := eventlog.Open(*data, eventlog.Options{})
	if err != nil {
		return explainOpen(err)
	}
	defer l.Close()
	for _, a := range applied {
		fmt.Fprintf(c.Stdout, "applied migration %d: %s\n", a.Version, a.Name)
	}
	fmt.Fprintf(c.Stdout, "%s is at schema version %d\n", *data, migrations.Latest(migrations.All()))
	return nil
}

// checkStream is migrate -nats. A stream has no layout to migrate: its
// records are the events' encoding, which projection reads in every
// version it knows. So it checks that the stream exists with the
// configuration Chateau needs (jetlog.Open, read-only) and that every
// record decodes, and says how many there are.
func (c *MigrateCommand) checkStream(ctx context.Context, stream streamFlags) error {
	src, err := openStreamRecords(ctx, stream, c.Stderr)
	if err != nil {
		return err
	}
	defer src.Close()
	n := 0
	err = src.scan(ctx, ulid.ULID{}, false, func(rec eventlog.Record) error {
		if _, err := projection.Decode(rec.ID, rec.Data); err != nil {
			return fmt.Errorf("record %d: %w", n+1, err)
		}
		n++
		return nil
	}, func() error { return nil })
	if err != nil {
		return fmt.Errorf("%s: %w", stream, err)
	}
	fmt.Fprintf(c.Stdout, "%s holds %d records: up to date\n", stream, n)
	return nil
}
