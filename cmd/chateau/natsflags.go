package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/chateau/chateau/jetlog"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Timings of the tools' link to NATS.
const (
	// streamOpenWait bounds connecting and opening the stream.
	streamOpenWait = 30 * time.Second
	// streamReconnectWait is the pause between reconnection attempts: a
	// tool, like a node, tries for ever (a --follow may last days), and
	// the user's Ctrl-C ends it.
	streamReconnectWait = 250 * time.Millisecond
)

// streamFlags are the flags that put a tool on a log in a JetStream
// stream instead of a data file: -nats and -stream.
type streamFlags struct {
	urls   string // comma-separated NATS server URLs; "" for a data file
	stream string
}

// register adds -nats, whose usage natsUsage gives, and -stream to fs.
func (f *streamFlags) register(fs *flag.FlagSet, natsUsage string) {
	fs.StringVar(&f.urls, "nats", "", "comma-separated NATS server URLs: "+natsUsage)
	fs.StringVar(&f.stream, "stream", "chateau", "with -nats: the JetStream stream that holds the log")
}

// set reports whether -nats was given.
func (f streamFlags) set() bool { return f.urls != "" }

// String names the stream and its servers for messages, without the
// credentials a URL may carry.
func (f streamFlags) String() string {
	return "stream " + f.stream + " at " + redactURLs(f.urls)
}

// redactURLs returns the comma-separated URLs with any user name and
// password replaced.
func redactURLs(urls string) string {
	parts := strings.Split(urls, ",")
	for i, s := range parts {
		s = strings.TrimSpace(s)
		withScheme := s
		if !strings.Contains(s, "://") {
			withScheme = "nats://" + s
		}
		if u, err := url.Parse(withScheme); err != nil || u.User != nil {
			parts[i] = "(a URL with credentials)"
			if err == nil {
				u.User = url.User("redacted")
				parts[i] = u.String()
			}
		}
	}
	return strings.Join(parts, ",")
}

// streamLog is a tool's connection to NATS and the log in the stream,
// opened on it. Close closes both.
type streamLog struct {
	nc  *nats.Conn
	log *jetlog.Log
}

// open connects to -nats and opens -stream with opt (whose Stream it
// sets); the tail's troubles are logged to stderr. ctx bounds the opening
// only.
func (f streamFlags) open(ctx context.Context, opt jetlog.Options, stderr io.Writer) (*streamLog, error) {
	nc, err := nats.Connect(f.urls, nats.Name("chateau tool"), nats.MaxReconnects(-1), nats.ReconnectWait(streamReconnectWait))
	if err != nil {
		return nil, fmt.Errorf("connect to NATS at %s: %w", redactURLs(f.urls), err)
	}
	ctx, cancel := context.WithTimeout(ctx, streamOpenWait)
	defer cancel()
	opt.Stream = f.stream
	opt.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	l, err := jetlog.Open(ctx, nc, opt)
	if err != nil {
		nc.Close()
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			err = fmt.Errorf("%w (chateau serve -nats and chateau copy-to-stream create it)", err)
		}
		return nil, fmt.Errorf("NATS at %s: %w", redactURLs(f.urls), err)
	}
	return &streamLog{nc: nc, log: l}, nil
}

// Close stops the log's tail and closes the connection.
func (s *streamLog) Close() error {
	err := s.log.Close()
	s.nc.Close()
	return err
}
