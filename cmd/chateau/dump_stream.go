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
// jetlog.Log of its own, whose tail reads the stream from its start: the
// first scan takes the records from the tail as it reads them (one pass,
// and the tail's buffer stays small), up to the stream's last sequence
// when the scan began, and with follow then each record the tail reads
// later. A later scan, which only checkNames makes, reads with a consumer
// of its own (jetlog's Scan), since the tail's buffer is spent.
type streamRecords struct {
	*streamLog
	where  string
	tailed bool // the first scan took records from the tail
}

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
	if !s.tailed {
		s.tailed = true
		return s.fromTail(ctx, after, follow, fn, caughtUp)
	}
	if follow {
		return errors.New("a stream's records are followed once") // the dumper never asks
	}
	if err := s.log.Scan(after, fn); err != nil {
		return err
	}
	return caughtUp()
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
