package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"syscall"
	"time"

	"github.com/chateau/chateau/eventlog"
	"github.com/oklog/ulid/v2"
)

// recordSource is where `events dump` reads the log: the data file, or the
// admin listener of the server that holds it. Both give the same records,
// which the dump decodes, filters and prints with the same code.
type recordSource interface {
	// scan calls fn for each record after `after`, in log order, and
	// caughtUp once it has given every record committed so far. Without
	// follow it then returns nil. With follow it goes on with each record
	// committed later, calling caughtUp whenever it has given them all,
	// until ctx ends or the server stops (errServerStopped). An error from
	// fn or caughtUp ends the scan and is returned as it is.
	scan(ctx context.Context, after ulid.ULID, follow bool, fn func(eventlog.Record) error, caughtUp func() error) error
	// String says where the records come from, for messages.
	String() string
	Close() error
}

// openRecords finds where to read the log on data: the admin listener of
// the server running on it (the socket beside it, or adminAddr), else the
// file itself, which cannot be followed: a reader's shared lock on it
// would stop a server from starting.
func openRecords(ctx context.Context, data, adminAddr string, follow bool) (recordSource, error) {
	client, base, where := adminClient(adminAddr, data)
	server := &serverRecords{client: client, url: base, where: where}
	err := server.probe(ctx)
	if err == nil {
		return server, nil
	}
	// Nothing listens: no socket, a socket left by a dead server, a closed
	// port.
	if !errors.Is(err, os.ErrNotExist) && !errors.Is(err, syscall.ECONNREFUSED) {
		return nil, fmt.Errorf("%s: %w", server, err)
	}
	if follow {
		return nil, fmt.Errorf("events dump: -follow needs a running server, and none answers at %s (give -admin-addr if it was started with one)", where)
	}
	l, _, err := eventlog.Open(data, eventlog.Options{ReadOnly: true})
	if errors.Is(err, eventlog.ErrLocked) {
		return nil, fmt.Errorf("%w, by a server that does not answer at %s: give events dump the server's -admin-addr", err, where)
	}
	if err != nil {
		return nil, err
	}
	return &fileRecords{log: l, path: data}, nil
}

// fileRecords reads the data file itself, in one read transaction: no
// server writes to it meanwhile.
type fileRecords struct {
	log  *eventlog.Log
	path string
}

func (f *fileRecords) scan(_ context.Context, after ulid.ULID, follow bool, fn func(eventlog.Record) error, caughtUp func() error) error {
	if follow {
		return errors.New("a data file cannot be followed") // openRecords refuses it first
	}
	if err := f.log.Scan(after, fn); err != nil {
		return err
	}
	return caughtUp()
}

func (f *fileRecords) String() string { return f.path }
func (f *fileRecords) Close() error   { return f.log.Close() }

// serverRecords reads the log through GET /events on a running server's
// admin listener.
type serverRecords struct {
	client *http.Client
	url    string // the listener's base URL
	where  string // the socket's path or the TCP address
}

// probe asks the listener for /healthz, to learn whether a server answers.
func (s *serverRecords) probe(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	resp, err := s.get(ctx, "/healthz")
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 512))
	return resp.Body.Close()
}

func (s *serverRecords) get(ctx context.Context, path string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url+path, nil)
	if err != nil {
		return nil, usagef("events dump: -admin-addr %q: %v", s.where, err)
	}
	return s.client.Do(req)
}

func (s *serverRecords) scan(ctx context.Context, after ulid.ULID, follow bool, fn func(eventlog.Record) error, caughtUp func() error) error {
	// Leaving early (--limit, an error) closes the connection, which ends
	// the server's side.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	q := url.Values{"after": {after.String()}}
	if follow {
		q.Set("follow", "1")
	}
	resp, err := s.get(ctx, "/events?"+q.Encode())
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return errors.New("it does not serve /events (not an admin listener, or a chateau older than this one): dump a copy taken with `chateau backup`")
	case resp.StatusCode != http.StatusOK:
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("%s: %s", resp.Status, msg)
	}
	return readFrames(bufio.NewReaderSize(resp.Body, 64<<10), follow, fn, caughtUp)
}

func (s *serverRecords) String() string { return "server at " + s.where }

func (s *serverRecords) Close() error {
	s.client.CloseIdleConnections()
	return nil
}
