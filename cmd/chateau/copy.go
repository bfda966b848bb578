package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/chateau/chateau/eventlog"
	"github.com/chateau/chateau/jetlog"
	"github.com/oklog/ulid/v2"
)

// fileImportChunk is how many records copyStreamOut stores in one bbolt
// transaction: a copy of millions of records neither holds them all in
// memory nor pays an fsync for each few.
const fileImportChunk = 4096

// CopyToStreamCommand copies a data file into an empty JetStream stream,
// ids included: a single node's log becomes a cluster's.
type CopyToStreamCommand struct {
	Stdout, Stderr io.Writer
}

// Run parses args and copies -data into the stream.
func (c *CopyToStreamCommand) Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("copy-to-stream", flag.ContinueOnError)
	data := fs.String("data", "chateau.db", "data file to copy; no server may be running on it")
	var stream streamFlags
	stream.register(fs, "the servers of the stream to copy into (required); it must be empty, and is created if missing")
	replicas := fs.Int("replicas", 3, "copies of the stream if it is created, as serve -replicas (1 for a single NATS server); an existing stream with fewer is refused")
	if err := parseFlags(fs, args, c.Stdout); err != nil {
		return err
	}
	switch {
	case !stream.set():
		return usagef("copy-to-stream: -nats is required")
	case *replicas < 1 || *replicas > 5:
		return usagef("copy-to-stream: -replicas must be between 1 and 5")
	}
	// Read-only, as events dump reads a file: a server running on it holds
	// a lock that refuses this one, and this one keeps a server from
	// starting on it until the copy is done.
	l, _, err := eventlog.Open(*data, eventlog.Options{ReadOnly: true})
	if err != nil {
		return explainOpen(err)
	}
	defer l.Close()
	dst, err := stream.open(ctx, jetlog.Options{Replicas: *replicas}, c.Stderr)
	if err != nil {
		return err
	}
	defer dst.Close()
	// No records: only check that the stream is empty, before reading the
	// whole file.
	if err := dst.log.Import(nil); err != nil {
		return fmt.Errorf("%s: %w", stream, err)
	}
	// Ctrl-C stops the import between two batches.
	defer context.AfterFunc(ctx, func() { _ = dst.log.Close() })()
	n, err := copyRecords(ctx, &fileRecords{log: l, path: *data}, 0, dst.log.Import)
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("interrupted: %w", err)
		}
		return fmt.Errorf("copy %s to %s: %w (the stream may hold part of the copy: delete it before copying again)", *data, stream, err)
	}
	fmt.Fprintf(c.Stdout, "copied %d records from %s to %s\n", n, *data, stream)
	return nil
}

// CopyToFileCommand copies a stream's log into a new data file, ids
// included: a cluster's log becomes a single node's. It is `backup
// -nats`.
type CopyToFileCommand struct {
	Stdout, Stderr io.Writer
}

// Run parses args and writes the copy to -out.
func (c *CopyToFileCommand) Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("copy-to-file", flag.ContinueOnError)
	var stream streamFlags
	stream.register(fs, "the servers of the stream to copy (required)")
	out := fs.String("out", "", "data file to write (required; must not exist, unless -force)")
	force := fs.Bool("force", false, "replace -out if it exists (atomically: it stays whole until the copy is)")
	if err := parseFlags(fs, args, c.Stdout); err != nil {
		return err
	}
	switch {
	case !stream.set():
		return usagef("copy-to-file: -nats is required")
	case *out == "":
		return usagef("copy-to-file: -out is required")
	}
	return copyStreamOut(ctx, stream, *out, *force, c.Stdout, c.Stderr)
}

// copyStreamOut writes a new data file at out holding every record of the
// stream up to its last sequence when the copy begins, with their ids, as
// writeOut makes files; for copy-to-file and backup -nats.
func copyStreamOut(ctx context.Context, stream streamFlags, out string, force bool, stdout, stderr io.Writer) error {
	var n int
	err := writeOut(out, force, func(path string) error {
		src, err := openStreamRecords(ctx, stream, stderr)
		if err != nil {
			return err
		}
		defer src.Close()
		l, _, err := eventlog.Open(path, eventlog.Options{})
		if err != nil {
			return err
		}
		defer l.Close()
		if n, err = copyRecords(ctx, src, fileImportChunk, l.Import); err != nil {
			return fmt.Errorf("copy %s to %s: %w", stream, out, err)
		}
		return l.Close()
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "copied %d records from %s to %s\n", n, stream, out)
	return nil
}

// copyRecords hands store every record of src, in log order, in slices of
// at most chunk records (all in one if chunk is 0), and returns how many
// it stored. The records are copies: store may keep them.
func copyRecords(ctx context.Context, src recordSource, chunk int, store func([]eventlog.Record) error) (int, error) {
	var recs []eventlog.Record
	n := 0
	flush := func() error {
		if len(recs) == 0 {
			return nil
		}
		err := store(recs)
		if err == nil {
			n += len(recs)
		}
		recs = nil
		return err
	}
	err := src.scan(ctx, ulid.ULID{}, false, func(rec eventlog.Record) error {
		if err := ctx.Err(); err != nil { // Ctrl-C
			return err
		}
		recs = append(recs, eventlog.Record{ID: rec.ID, Data: bytes.Clone(rec.Data)})
		if chunk > 0 && len(recs) >= chunk {
			return flush()
		}
		return nil
	}, flush)
	return n, err
}
