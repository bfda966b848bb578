package jetlog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/chateau/chateau/eventlog"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/oklog/ulid/v2"
	"golang.org/x/sync/errgroup"
)

const (
	// getPage is how many records Get fetches before it hands them to fn.
	getPage = 64
	// getInFlight is how many of a page's records Get asks for at once.
	getInFlight = 16
	// getWait bounds the fetch of one record.
	getWait = 10 * time.Second
)

// Get calls fn for the record of each of ids, in the order given. It
// finds each id's sequence in the tail's index, so an id the tail has not
// read returns an error wrapping eventlog.ErrNotFound, before fn is called
// at all. It fetches a page of records at a time by direct get, several
// in flight. rec.Data is the caller's. An error from fn stops Get and is
// returned.
func (l *Log) Get(ids []ulid.ULID, fn func(rec eventlog.Record) error) error {
	if l.isClosed() {
		return eventlog.ErrClosed
	}
	index := l.index()
	seqs := make([]uint64, len(ids))
	for i, id := range ids {
		j, found := slices.BinarySearchFunc(index, id, ulid.ULID.Compare)
		if !found {
			return fmt.Errorf("%w: %s", eventlog.ErrNotFound, id)
		}
		seqs[i] = uint64(j) + 1
	}
	for start := 0; start < len(ids); start += getPage {
		end := min(start+getPage, len(ids))
		data, err := l.fetch(seqs[start:end])
		if err != nil {
			if l.ctx.Err() != nil {
				return eventlog.ErrClosed
			}
			return err
		}
		for i, d := range data {
			if err := fn(eventlog.Record{ID: ids[start+i], Data: d}); err != nil {
				return err
			}
		}
	}
	return nil
}

// fetch returns the data of the messages at seqs, getInFlight at a time.
func (l *Log) fetch(seqs []uint64) ([][]byte, error) {
	data := make([][]byte, len(seqs))
	g, ctx := errgroup.WithContext(l.ctx)
	g.SetLimit(getInFlight)
	for i, seq := range seqs {
		g.Go(func() error {
			var err error
			data[i], err = l.getMsg(ctx, seq)
			return err
		})
	}
	return data, g.Wait()
}

// getMsg returns the data of the message at seq, by direct get from any
// replica. A replica may not have applied yet what the leader has
// committed and the tail has read; the leader's own answer decides then.
func (l *Log) getMsg(ctx context.Context, seq uint64) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, getWait)
	defer cancel()
	msg, err := l.stream.GetMsg(ctx, seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return l.leaderGet(ctx, seq)
	}
	if err != nil {
		return nil, fmt.Errorf("get sequence %d: %w", seq, err)
	}
	return msg.Data, nil
}

// msgGetResponse is the answer of the stream leader's message get API.
type msgGetResponse struct {
	Error   *jetstream.APIError `json:"error,omitempty"`
	Message *struct {
		Data []byte `json:"data"`
	} `json:"message,omitempty"`
}

// leaderGet returns the data of the message at seq from the stream's
// leader, through the JetStream API rather than direct get.
func (l *Log) leaderGet(ctx context.Context, seq uint64) ([]byte, error) {
	subject := fmt.Sprintf("$JS.API.STREAM.MSG.GET.%s", l.name)
	req := fmt.Appendf(nil, `{"seq":%d}`, seq)
	resp, err := l.nc.RequestWithContext(ctx, subject, req)
	if err != nil {
		return nil, fmt.Errorf("get sequence %d from the leader: %w", seq, err)
	}
	var r msgGetResponse
	switch err := json.Unmarshal(resp.Data, &r); {
	case err != nil:
		return nil, fmt.Errorf("get sequence %d from the leader: %w", seq, err)
	case r.Error != nil:
		return nil, fmt.Errorf("get sequence %d from the leader: %w", seq, r.Error)
	case r.Message == nil:
		return nil, fmt.Errorf("get sequence %d from the leader: an answer without a message", seq)
	}
	return r.Message.Data, nil
}
