package jetlog

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/chateau/chateau/eventlog"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/oklog/ulid/v2"
)

// Errors returned by Import.
var (
	// ErrStreamNotEmpty means Import found in the stream records it did
	// not store: there before it began, when it stores nothing; or
	// published by another writer between two of its batches, when the
	// batches before are stored.
	ErrStreamNotEmpty = errors.New("the stream is not empty")
	// ErrIDsDiffer means the tail computed other ids for the records
	// Import stored than the ids they carried. The stream holds them,
	// under the tail's ids; it is no copy of the log they came from.
	ErrIDsDiffer = errors.New("the stream's ids differ from the imported records' ids")
)

// Import stores recs, a whole log (a bbolt file's, package eventlog), in
// an empty stream, so that every tail computes exactly their ids: each
// record's id is its message's proposal, and the ids strictly increase
// (else Import returns an error wrapping eventlog.ErrUnordered and stores
// nothing).
//
// It publishes atomic batches of at most MaxBatch records, each stored
// only if the stream's last sequence is the one the batch follows: a
// stream that is not empty at the start is refused with
// ErrStreamNotEmpty, storing nothing (no records asks for that check
// alone), and so is another writer's record between two batches, which
// leaves the batches before stored. After each batch Import waits for the
// tail and checks the ids it computed (ErrIDsDiffer). Each batch is
// bounded by 10 s, as a Publish is.
//
// The records get no Key or Dedup: the names they create are known to
// every node that replays the stream, not claimed on the stream's
// subjects. Import is serialised with Publish. A read-only Log returns
// eventlog.ErrReadOnly, a closed one eventlog.ErrClosed.
func (l *Log) Import(recs []eventlog.Record) error {
	switch {
	case l.isClosed():
		return eventlog.ErrClosed
	case l.readOnly:
		return eventlog.ErrReadOnly
	}
	if err := eventlog.CheckOrder(ulid.ULID{}, recs); err != nil {
		return err
	}
	l.pubMu.Lock()
	defer l.pubMu.Unlock()
	if len(recs) == 0 {
		return l.checkEmpty()
	}
	var seq uint64 // the stream's last sequence, which the next batch follows
	for start := 0; start < len(recs); start += MaxBatch {
		batch := recs[start:min(start+MaxBatch, len(recs))]
		if err := l.importBatch(seq, batch); err != nil {
			if l.ctx.Err() != nil {
				err = eventlog.ErrClosed
			}
			return fmt.Errorf("import records %d to %d of %d: %w", start+1, start+len(batch), len(recs), err)
		}
		seq += uint64(len(batch))
		l.proposed = later(l.proposed, batch[len(batch)-1].ID)
	}
	return nil
}

// importBatch publishes recs as one atomic batch right after sequence seq,
// waits for the tail to read it and checks the ids it computed.
func (l *Log) importBatch(seq uint64, recs []eventlog.Record) error {
	ctx, cancel := context.WithTimeout(l.ctx, publishWait)
	defer cancel()
	entries := make([]eventlog.Entry, len(recs))
	ids := make([]ulid.ULID, len(recs))
	for i, rec := range recs {
		entries[i].Data = rec.Data
		ids[i] = rec.ID
	}
	msgs := l.batch(entries, ids)
	// The server checks this header on a batch's first message only,
	// which is enough: the batch is stored whole, right after seq.
	msgs[0].Header.Set(jetstream.ExpectedLastSeqHeader, strconv.FormatUint(seq, 10))
	last, err := l.commit(ctx, msgs)
	var refused *jetstream.APIError
	switch {
	// Entries without Key or Dedup conflict on the stream's last sequence only.
	case errors.Is(err, eventlog.ErrConflict) && errors.As(err, &refused):
		return fmt.Errorf("%w where sequence %d was to follow (%s)", ErrStreamNotEmpty, seq+1, refused.Description)
	case err != nil:
		return err
	case last != seq+uint64(len(recs)):
		return fmt.Errorf("the server stored the batch up to sequence %d, not %d", last, seq+uint64(len(recs)))
	}
	if err := l.waitRead(ctx, last); err != nil {
		return err
	}
	for i, id := range l.idsOf(seq+1, last) {
		if id != ids[i] {
			return fmt.Errorf("%w: sequence %d has the id %s, not %s", ErrIDsDiffer, seq+1+uint64(i), id, ids[i])
		}
	}
	return nil
}

// checkEmpty returns ErrStreamNotEmpty unless the stream's leader says the
// stream holds no message.
func (l *Log) checkEmpty() error {
	ctx, cancel := context.WithTimeout(l.ctx, publishWait)
	defer cancel()
	info, err := l.stream.Info(ctx)
	switch {
	case err != nil:
		return fmt.Errorf("stream info: %w", err)
	case info.State.LastSeq != 0:
		return fmt.Errorf("%w: its last sequence is %d", ErrStreamNotEmpty, info.State.LastSeq)
	}
	return nil
}
