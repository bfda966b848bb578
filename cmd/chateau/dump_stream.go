package main

import (
	"context"
	"errors"
	"io"

	"github.com/chateau/chateau/eventlog"
	"github.com/chateau/chateau/jetlog"
	"github.com/oklog/ulid/v2"
)

// streamReadBatch is how many records a stream's source takes from the
// tail's buffer at once.
const streamReadBatch = 1024

// streamRecords reads the log in a JetStream stream through a read-only
// jetlog.Log of its own. The stream still holds the content of deleted
// messages (it cannot be rewritten), so each scan reads the history twice
// and erases it on the way (redaction): a first pass collects the
// deletions, a second hands the records, erased, up to the last one the
// first read. The first scan's first pass takes the records from the tail
// as it reads them (the tail's buffer stays small), up to the stream's
// last sequence when the scan began; its second pass, and both of a later
// scan (which only checkNames makes), read with a consumer of their own
// (jetlog's Scan). With follow, the first scan then hands each record the
// tail reads later, as it comes: one deleted after it was handed was
// handed with its content.
//
// A streamRecords is used by one goroutine; Close ends it.
type streamRecords struct {
	*streamLog
	where  string
	tailed bool // the first scan took records from the tail
}

// errHistoryHanded stops the second pass of a scan at the last record the
// first pass read.
var errHistoryHanded = errors.New("history handed")

// openStreamRecords opens the stream of f read-only, for `events dump`
// and the commands that copy or check a stream.
func openStreamRecords(ctx context.Context, f streamFlags, stderr io.Writer) (*streamRecords, error) {
	s, err := f.open(ctx, jetlog.Options{ReadOnly: true}, stderr)
	if err != nil {
		return nil, err
	}
	return &streamRecords{streamLog: s, where: f.String()}, nil
}

func (s *streamRecords) scan(ctx context.Context, after ulid.ULID, follow bool, fn func(eventlog.Record) error, caughtUp func() error) error {
	if follow && s.tailed {
		return errors.New("a stream's records are followed once") // the dumper never asks
	}
	var r redaction
	last, err := s.collect(ctx, after, &r)
	if err != nil {
		return err
	}
	if err := s.handErased(ctx, after, last, &r, fn); err != nil {
		return err
	}
	if err := caughtUp(); err != nil || !follow {
		return err
	}
	return s.fromTail(ctx, last, true, fn, caughtUp)
}

// collect is a scan's first pass: it reads the records after `after` into
// r, the first time from the tail, later with a consumer, and returns the
// id of the last one it read (after if none).
func (s *streamRecords) collect(ctx context.Context, after ulid.ULID, r *redaction) (ulid.ULID, error) {
	last := after
	note := func(rec eventlog.Record) error {
		if err := ctx.Err(); err != nil { // Ctrl-C
			return err
		}
		last = rec.ID
		return r.collect(rec)
	}
	if s.tailed {
		err := s.log.Scan(after, note)
		return last, err
	}
	s.tailed = true
	err := s.fromTail(ctx, after, false, note, func() error { return nil })
	return last, err
}

// handErased is a scan's second pass: it hands fn each record after
// `after` up to last, erased by r, read with a consumer.
func (s *streamRecords) handErased(ctx context.Context, after, last ulid.ULID, r *redaction, fn func(eventlog.Record) error) error {
	if last == after {
		return nil
	}
	err := s.log.Scan(after, func(rec eventlog.Record) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		rec, err := r.erase(rec)
		if err == nil {
			err = fn(rec)
		}
		if err == nil && rec.ID == last {
			err = errHistoryHanded
		}
		return err
	})
	if errors.Is(err, errHistoryHanded) {
		return nil
	}
	return err
}

// fromTail hands fn the records the tail reads, after `after`. It is
// caught up once a Sync, begun at the start, has returned and the records
// the tail read until then are handed; with follow it goes on, caught up
// whenever it has handed all the tail has read, until ctx ends.
func (s *streamRecords) fromTail(ctx context.Context, after ulid.ULID, follow bool, fn func(eventlog.Record) error, caughtUp func() error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	synced := make(chan error, 1)
	go func() { synced <- s.log.Sync(ctx) }()
	last, caught := after, false
	for {
		var err error
		if last, err = s.drain(last, fn); err != nil {
			return err
		}
		if caught {
			if err := caughtUp(); err != nil || !follow {
				return err
			}
		}
		select {
		case <-s.log.Ready():
		case err := <-synced:
			if err != nil {
				return err
			}
			caught = true
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// drain hands fn every record the tail has buffered after last, and
// returns the id of the last one handed.
func (s *streamRecords) drain(last ulid.ULID, fn func(eventlog.Record) error) (ulid.ULID, error) {
	for {
		recs := s.log.Read(last, streamReadBatch)
		if len(recs) == 0 {
			return last, nil
		}
		for _, rec := range recs {
			if err := fn(rec); err != nil {
				return last, err
			}
			last = rec.ID
		}
	}
}

func (s *streamRecords) String() string { return s.where }
