package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/chateau/chateau/eventlog"
	"github.com/chateau/chateau/migrations"
)

// MigrateCommand applies pending migrations to a data file.
type MigrateCommand struct {
	Stdout, Stderr io.Writer
}

// Run parses args and migrates the file, printing each step applied.
func (c *MigrateCommand) Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	data := fs.String("data", "chateau.db", "data file")
	if err := parseFlags(fs, args, c.Stdout); err != nil {
		return err
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
