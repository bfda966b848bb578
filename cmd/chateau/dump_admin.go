package main

import (
	"bufio"
	"context"
	// Aliased: the tests of this package name the chateau executable binary.
	binenc "encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/chateau/chateau/eventlog"
	"github.com/oklog/ulid/v2"
)

// GET /events on the admin listener streams the log's records, undecoded,
// so that `events dump` filters and prints them with the same code as from
// the file. The body is a sequence of frames, each starting with its kind:
const (
	// frameRecord: the 16 bytes of the id, the length of the data as a
	// uvarint, the record's data (its encoded event).
	frameRecord = 'r'
	// frameCaughtUp: every record committed so far has been sent.
	// Without follow=1 it is the last frame.
	frameCaughtUp = 'c'
	// frameEnd: the server is stopping, and every record it committed has
	// been sent. The last frame of a stream with follow=1.
	frameEnd = 'e'
	// frameError: the length of a message as a uvarint, the message.
	// Reading the log failed; it is the last frame.
	frameError = 'x'
)

// What one read transaction of GET /events reads at most: a transaction
// kept open keeps the pages the log frees meanwhile, so it never waits for
// a client.
const (
	chunkRecords = 1024
	chunkBytes   = 1 << 20
)

// maxFrameData bounds the data of a frame a client accepts.
const maxFrameData = 64 << 20

// shutdownWriteGrace is what a stream whose client does not read gets to
// write its last frames once the admin server shuts down.
const shutdownWriteGrace = time.Second

// errChunkFull ends a read transaction of GET /events.
var errChunkFull = errors.New("chunk full")

// eventsHandler serves GET /events?after=ULID&follow=1: the records after
// the id (all without it) in log order, then a caught-up frame. With
// follow=1 it goes on with each record committed later, and a caught-up
// frame whenever it has sent all there is, until the client leaves or the
// admin server shuts down (then it sends what is left and an end frame).
// The records hold password hashes, so it is routed on the admin listener
// only.
func eventsHandler(l *eventlog.Log, logger *slog.Logger) http.Handler {
	var stopping shutdownSignal
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		after, follow, err := parseEventsQuery(r.URL.Query())
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		s := &recordStream{w: w, rc: http.NewResponseController(w), log: l, after: after, follow: follow}
		err = s.run(r.Context(), stopping.of(r))
		if errors.Is(err, errLogRead) {
			logger.Error("events stream failed", "records", s.sent, "follow", follow, "err", err)
			return
		}
		logger.Info("events stream ended", "records", s.sent, "follow", follow, "reason", err)
	})
}

// parseEventsQuery reads GET /events's after and follow.
func parseEventsQuery(q url.Values) (after ulid.ULID, follow bool, err error) {
	if s := q.Get("after"); s != "" {
		if after, err = ulid.ParseStrict(s); err != nil {
			return after, false, fmt.Errorf("after=%q is not a ULID: %v", s, err)
		}
	}
	switch q.Get("follow") {
	case "", "0":
	case "1":
		follow = true
	default:
		return after, false, fmt.Errorf("follow must be 1 or 0")
	}
	return after, follow, nil
}

// errLogRead marks a stream that ended because the log could not be read.
var errLogRead = errors.New("reading the log")

// recordStream is one response of GET /events.
type recordStream struct {
	w      io.Writer
	rc     *http.ResponseController
	log    *eventlog.Log
	after  ulid.ULID // the last record sent
	follow bool
	sent   int
	buf    []byte
}

// Why a stream ended when nothing failed.
var (
	errCaughtUp      = errors.New("caught up")
	errServerStopped = errors.New("the server stopped")
)

// run sends frames until the stream is over and says why it ended.
func (s *recordStream) run(ctx context.Context, stopping <-chan struct{}) error {
	// A client that does not read keeps the handler in Write: once the
	// server shuts down it gets a little time, not the whole grace period.
	defer onClose(stopping, func() { _ = s.rc.SetWriteDeadline(time.Now().Add(shutdownWriteGrace)) })()
	for {
		// Taken before reading, so that no commit after the read is missed.
		appended := s.log.Appended()
		if err := s.sendAll(); err != nil {
			return err
		}
		if !s.follow {
			return errCaughtUp
		}
		select {
		case <-appended:
		case <-ctx.Done():
			return ctx.Err()
		case <-stopping:
			// The admin listener shuts down after the chat core has
			// stopped, so every commit is done: send what is left, and end.
			if err := s.sendAll(); err != nil {
				return err
			}
			s.buf = append(s.buf[:0], frameEnd)
			if err := s.write(); err != nil {
				return err
			}
			return errServerStopped
		}
	}
}

// sendAll sends the records after s.after, a chunk at a time, then a
// caught-up frame; or an error frame if the log cannot be read.
func (s *recordStream) sendAll() error {
	for {
		full, err := s.readChunk()
		if err != nil {
			s.buf = binenc.AppendUvarint(append(s.buf[:0], frameError), uint64(len(err.Error())))
			s.buf = append(s.buf, err.Error()...)
			_, _ = s.w.Write(s.buf)
			return fmt.Errorf("%w: %w", errLogRead, err)
		}
		if !full {
			s.buf = append(s.buf, frameCaughtUp)
		}
		if err := s.write(); err != nil || !full {
			return err
		}
	}
}

// readChunk puts into s.buf the frames of the records after s.after, at
// most chunkRecords of them or a record past chunkBytes, from one read
// transaction, which ends before anything is written to the client. It
// reports whether it stopped at that bound, with more perhaps to read.
func (s *recordStream) readChunk() (full bool, err error) {
	s.buf = s.buf[:0]
	n := 0
	err = s.log.Scan(s.after, func(rec eventlog.Record) error {
		s.buf = append(append(s.buf, frameRecord), rec.ID[:]...)
		s.buf = binenc.AppendUvarint(s.buf, uint64(len(rec.Data)))
		s.buf = append(s.buf, rec.Data...)
		s.after = rec.ID
		if n++; n >= chunkRecords || len(s.buf) >= chunkBytes {
			return errChunkFull
		}
		return nil
	})
	s.sent += n
	if errors.Is(err, errChunkFull) {
		return true, nil
	}
	return false, err
}

// write sends s.buf and flushes it to the client.
func (s *recordStream) write() error {
	if _, err := s.w.Write(s.buf); err != nil {
		return err
	}
	return s.rc.Flush()
}

// onClose calls f in a goroutine once ch is closed, unless the returned
// function is called first; that function returns once f has returned, if
// it was called.
func onClose(ch <-chan struct{}, f func()) (cancel func()) {
	done, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		select {
		case <-ch:
			f()
		case <-done:
		}
	}()
	return func() {
		close(done)
		<-finished
	}
}

// shutdownSignal is closed when the http.Server that serves its handler
// begins to shut down. A handler learns its server from its first request
// (http.ServerContextKey), and registers then; should that request come
// as the shutdown begins, the signal is missed and its streams end when
// the log closes, after the shutdown's grace period.
type shutdownSignal struct {
	once sync.Once
	ch   chan struct{}
}

// of returns the channel, registering with r's server the first time.
func (s *shutdownSignal) of(r *http.Request) <-chan struct{} {
	s.once.Do(func() {
		s.ch = make(chan struct{})
		if srv, ok := r.Context().Value(http.ServerContextKey).(*http.Server); ok {
			srv.RegisterOnShutdown(func() { close(s.ch) })
		}
	})
	return s.ch
}

// readFrames reads the frames of GET /events from r: it calls fn for each
// record and caughtUp at each caught-up frame. Without follow it returns
// nil after the first caught-up frame; with follow, errServerStopped at
// the end frame. A stream that ends otherwise is an error.
func readFrames(r *bufio.Reader, follow bool, fn func(eventlog.Record) error, caughtUp func() error) error {
	var data []byte
	for {
		kind, err := r.ReadByte()
		if err != nil {
			return unexpectedEOF(err)
		}
		switch kind {
		case frameRecord:
			var rec eventlog.Record
			if _, err := io.ReadFull(r, rec.ID[:]); err != nil {
				return unexpectedEOF(err)
			}
			if data, err = readFrameData(r, data); err != nil {
				return err
			}
			rec.Data = data
			if err := fn(rec); err != nil {
				return err
			}
		case frameCaughtUp:
			if err := caughtUp(); err != nil || !follow {
				return err
			}
		case frameEnd:
			return errServerStopped
		case frameError:
			msg, err := readFrameData(r, nil)
			if err != nil {
				return err
			}
			return errors.New(string(msg))
		default:
			return fmt.Errorf("a frame of unknown kind %q", kind)
		}
	}
}

// readFrameData reads a uvarint length and that many bytes into buf.
func readFrameData(r *bufio.Reader, buf []byte) ([]byte, error) {
	n, err := binenc.ReadUvarint(r)
	if err != nil {
		return nil, unexpectedEOF(err)
	}
	if n > maxFrameData {
		return nil, fmt.Errorf("a frame of %d bytes", n)
	}
	if uint64(cap(buf)) < n {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, unexpectedEOF(err)
	}
	return buf, nil
}

// unexpectedEOF turns io.EOF into io.ErrUnexpectedEOF: a stream ends with
// its last frame, never before.
func unexpectedEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}
