package jetlog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Open opens the log in the stream opt.Stream, creating the stream if it
// is missing (unless opt.ReadOnly), and starts the tail, which reads the
// stream from its start: Ready and Sync tell how far it got. An existing
// stream that is weaker than opt asks is refused with ErrWeakStream; a
// read-only Open of a missing stream returns an error wrapping
// jetstream.ErrStreamNotFound.
//
// ctx bounds Open's own requests; the Log lives until Close. nc is the
// caller's, and should reconnect by itself: the tail recovers after a
// reconnect.
func Open(ctx context.Context, nc *nats.Conn, opt Options) (*Log, error) {
	if opt.Stream == "" {
		opt.Stream = "chateau"
	}
	if opt.Replicas == 0 {
		opt.Replicas = 1
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	stream, err := openStream(ctx, js, opt)
	if err != nil {
		return nil, err
	}
	if err := checkStream(stream.CachedInfo().Config, opt.Replicas); err != nil {
		return nil, fmt.Errorf("stream %s: %w", opt.Stream, err)
	}
	l := &Log{
		nc:       nc,
		js:       js,
		stream:   stream,
		name:     opt.Stream,
		readOnly: opt.ReadOnly,
		now:      opt.Now,
		logger:   opt.Logger.With(slog.String(keyStream, opt.Stream)),
		tailDone: make(chan struct{}),
		ready:    make(chan struct{}, 1),
	}
	l.ctx, l.cancel = context.WithCancel(context.Background())
	l.startLink()
	go l.runTail()
	return l, nil
}

// openStream finds the stream or, unless read-only, creates it. Two nodes
// may create it at once: the one that loses finds the other's.
func openStream(ctx context.Context, js jetstream.JetStream, opt Options) (jetstream.Stream, error) {
	stream, err := js.Stream(ctx, opt.Stream)
	if err == nil || !errors.Is(err, jetstream.ErrStreamNotFound) || opt.ReadOnly {
		if err != nil {
			return nil, fmt.Errorf("stream %s: %w", opt.Stream, err)
		}
		return stream, nil
	}
	stream, err = js.CreateStream(ctx, streamConfig(opt))
	if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		stream, err = js.Stream(ctx, opt.Stream)
	}
	if err != nil {
		return nil, fmt.Errorf("create stream %s: %w", opt.Stream, err)
	}
	return stream, nil
}

// streamConfig is the stream Open creates: durable on files, written by
// atomic batches, read by direct get on any replica, and never shortened,
// since the log's ids are computed from all that came before. It sets no
// limits; should an operator add some, Discard new makes a full stream
// refuse writes rather than drop its oldest records.
func streamConfig(opt Options) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:               opt.Stream,
		Subjects:           []string{opt.Stream + ".>"},
		Storage:            jetstream.FileStorage,
		Replicas:           opt.Replicas,
		Retention:          jetstream.LimitsPolicy,
		Discard:            jetstream.DiscardNew,
		AllowAtomicPublish: true,
		AllowDirect:        true,
		DenyDelete:         true,
		DenyPurge:          true,
		Duplicates:         DedupWindow,
	}
}

// checkStream says, in one line wrapping ErrWeakStream, the first way in
// which cfg is weaker than the log needs.
func checkStream(cfg jetstream.StreamConfig, replicas int) error {
	switch {
	case cfg.Storage != jetstream.FileStorage:
		return fmt.Errorf("%w: storage is %s, not file", ErrWeakStream, strings.ToLower(cfg.Storage.String()))
	case cfg.Replicas < replicas:
		return fmt.Errorf("%w: %d replicas, fewer than the %d asked for", ErrWeakStream, cfg.Replicas, replicas)
	case !cfg.AllowAtomicPublish:
		return fmt.Errorf("%w: allow_atomic is off", ErrWeakStream)
	case !cfg.AllowDirect:
		return fmt.Errorf("%w: allow_direct is off", ErrWeakStream)
	}
	return nil
}
