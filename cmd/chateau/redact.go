package main

import (
	"github.com/chateau/chateau/eventlog"
	"github.com/chateau/chateau/projection"
	"github.com/oklog/ulid/v2"
)

// redaction knows which records of a log hold a deleted message's
// content: the message each MessageDeleted names, and every MessageEdited
// of such a message. A data file erases them when it stores the deletion
// (projection.Erase, in eventlog.AppendRewriting); a stream cannot, so
// its readers erase them on the way, in two passes over the same records:
// collect each one first, then hand each one through erase.
//
// A deletion follows the message and the edits it erases, so a scan that
// starts after some id finds, among the records it reads, every deletion
// of the messages it reads.
//
// A redaction is used by one goroutine, for one scan; its zero value is
// ready.
type redaction struct {
	deleted map[ulid.ULID]bool // messages named by a MessageDeleted
}

// collect notes the message rec deletes, if it is a MessageDeleted. A
// record it cannot read deletes nothing it knows of: the reader of the
// second pass says what is wrong with it, or copies it as it is.
func (r *redaction) collect(rec eventlog.Record) error {
	e, err := projection.Decode(rec.ID, rec.Data)
	if err != nil {
		return nil
	}
	if p, ok := e.Payload.(projection.MessageDeleted); ok {
		if r.deleted == nil {
			r.deleted = make(map[ulid.ULID]bool)
		}
		r.deleted[p.Message] = true
	}
	return nil
}

// erase returns rec with its content erased, as a data file stores it
// after the deletion, if it is a deleted message or an edit of one, and
// rec itself otherwise.
func (r *redaction) erase(rec eventlog.Record) (eventlog.Record, error) {
	if len(r.deleted) == 0 {
		return rec, nil // nothing to erase: no need to decode
	}
	if !r.deleted[rec.ID] {
		e, err := projection.Decode(rec.ID, rec.Data)
		if err != nil {
			return rec, nil // not an edit this binary knows: as it is
		}
		if p, ok := e.Payload.(projection.MessageEdited); !ok || !r.deleted[p.Message] {
			return rec, nil
		}
	}
	data, err := projection.Erase(rec.ID, rec.Data)
	return eventlog.Record{ID: rec.ID, Data: data}, err
}
