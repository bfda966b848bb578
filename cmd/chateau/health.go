package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/chateau/chateau/eventlog"
	"github.com/chateau/chateau/wsapi"
)

// serving is what the handlers need once the start-up replay is done.
type serving struct {
	ws *wsapi.Server
	// writable reports why writes would fail now (the data file gone from
	// its path, NATS out of reach), or nil.
	writable func() error
}

// handleHealth routes /healthz and /readyz, which both listeners answer.
// /readyz answers 503 until ready is set, and while writes get 500: the
// data file is gone from its path, or the node is cut off from NATS.
func handleHealth(mux *http.ServeMux, ready *atomic.Pointer[serving]) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		s := ready.Load()
		if s == nil {
			http.Error(w, "replaying the log", http.StatusServiceUnavailable)
			return
		}
		if err := s.writable(); err != nil {
			// The details are in the server's log.
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
}

// fileWritable is a bbolt server's serving.writable.
func fileWritable(l *eventlog.Log) func() error {
	return func() error {
		if l.CheckPath() != nil {
			return errFileGone
		}
		return nil
	}
}

// errFileGone is /readyz's reason while the data file is gone.
var errFileGone = errors.New("the data file was deleted or replaced: writes are refused (500) until an operator acts")

// watchDataFile checks every interval that the data file is still at its
// path, until the returned stop is called, which waits for it to end. It
// logs an error when the file is first found gone, and again only after it
// was back.
func watchDataFile(l *eventlog.Log, logger *slog.Logger, interval time.Duration) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	ticker := time.NewTicker(interval)
	done := make(chan struct{})
	go func() {
		defer close(done)
		watchPath(ctx, l, logger, ticker.C)
	}()
	return func() {
		cancel()
		ticker.Stop()
		<-done
	}
}

// watchPath checks l's path at each tick until ctx is done, and logs when
// the file goes and comes back.
func watchPath(ctx context.Context, l *eventlog.Log, logger *slog.Logger, ticks <-chan time.Time) {
	gone := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticks:
		}
		err := l.CheckPath()
		switch {
		case err != nil && !gone:
			logger.Error("data file gone from its path: every write gets 500 until an operator acts; `chateau backup` still copies every event (see the README)", "err", err)
		case err == nil && gone:
			logger.Info("data file is back at its path: writes are stored again")
		}
		gone = err != nil
	}
}
