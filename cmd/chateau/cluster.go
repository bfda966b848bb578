package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/chateau/chateau/broadcast"
	"github.com/chateau/chateau/jetlog"
	"github.com/chateau/chateau/presence"
	"github.com/nats-io/nats.go"
)

// Timings of a node's link to NATS.
const (
	// natsOpenWait bounds opening the stream and the presence bucket at
	// start, in tries of natsTryWait each.
	natsOpenWait = time.Minute
	natsTryWait  = 5 * time.Second
	// natsReconnectWait is the pause between reconnection attempts; a node
	// tries for ever, and refuses writes (500) meanwhile.
	natsReconnectWait = 250 * time.Millisecond
)

// errNATSDown is /readyz's reason while the node is cut off from NATS.
var errNATSDown = errors.New("not connected to NATS: writes are refused (500) until the connection is back")

// clusterNode is a node's part of a cluster: its NATS connection, the
// stream that holds the log, who is online where, and the notices that
// are not stored (typing).
type clusterNode struct {
	nc        *nats.Conn
	log       *jetlog.Log
	presence  *presence.Presence
	broadcast *broadcast.Broadcast
}

// typingSubject is the core NATS subject of a stream's typing notices:
// outside the stream's subjects (stream.>), so that none is stored.
func typingSubject(stream string) string { return "_chateau." + stream + ".typing" }

// openClusterNode connects to the NATS servers at urls, in the order
// given, and opens the stream and the presence bucket, creating them with
// replicas copies if they are missing.
func openClusterNode(urls, stream string, replicas int, logger *slog.Logger) (*clusterNode, error) {
	nc, err := nats.Connect(urls, nats.Name("chateau"), nats.MaxReconnects(-1), nats.ReconnectWait(natsReconnectWait),
		nats.DontRandomize(), // a node lists its nearest server first
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil { // nil: the node closed the connection itself
				logger.Error("disconnected from NATS", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) { logger.Info("reconnected to NATS", "url", nc.ConnectedUrlRedacted()) }))
	if err != nil {
		return nil, fmt.Errorf("connect to NATS at %s: %w", redactURLs(urls), err)
	}
	n := &clusterNode{nc: nc}
	if err := n.open(stream, replicas, logger); err != nil {
		n.close()
		return nil, err
	}
	return n, nil
}

// open opens the stream and the presence bucket. A cluster that has just
// started may not answer for a while (it elects its leaders): each try
// is bounded by natsTryWait, and open tries again until natsOpenWait.
func (n *clusterNode) open(stream string, replicas int, logger *slog.Logger) error {
	deadline := time.Now().Add(natsOpenWait)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), natsTryWait)
		err := n.tryOpen(ctx, stream, replicas, logger)
		cancel()
		if err == nil || !unanswered(err) || time.Now().After(deadline) {
			return err
		}
		logger.Warn("the cluster does not answer yet; trying again", "stream", stream, "err", err)
	}
}

// unanswered reports whether err says the cluster did not answer (yet),
// rather than refused.
func unanswered(err error) bool {
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) || errors.Is(err, nats.ErrNoResponders)
}

// tryOpen is one try of open.
func (n *clusterNode) tryOpen(ctx context.Context, stream string, replicas int, logger *slog.Logger) error {
	var err error
	if n.log == nil {
		if n.log, err = jetlog.Open(ctx, n.nc, jetlog.Options{Stream: stream, Replicas: replicas, Logger: logger}); err != nil {
			return err // it names the stream
		}
	}
	n.presence, err = presence.Open(ctx, n.nc, presence.Options{Bucket: stream + "-online", Replicas: replicas, Logger: logger})
	if err != nil {
		return fmt.Errorf("presence bucket %s-online: %w", stream, err)
	}
	if n.broadcast, err = broadcast.Open(n.nc, typingSubject(stream)); err != nil {
		return err // it names the subject
	}
	return nil
}

// writable is the node's serving.writable.
func (n *clusterNode) writable() error {
	if !n.nc.IsConnected() {
		return errNATSDown
	}
	return nil
}

// close gives up the node's names, stops reading the stream and
// disconnects, as far as open got.
func (n *clusterNode) close() {
	if n.broadcast != nil {
		_ = n.broadcast.Close()
	}
	if n.presence != nil {
		_ = n.presence.Close()
	}
	if n.log != nil {
		_ = n.log.Close()
	}
	n.nc.Close()
}

// openCluster is open for a node of a cluster (-nats): the stream instead
// of the data file, and the admin listener only on -admin-addr, since
// there is no data file to put its socket beside.
func (s *server) openCluster() error {
	n, err := openClusterNode(s.cfg.nats, s.cfg.stream, s.cfg.replicas, s.logger)
	if err != nil {
		return err
	}
	s.cluster = n
	if s.cfg.adminAddr != "" {
		ln, err := listenAdmin(s.cfg.adminAddr, "")
		if err != nil {
			return err
		}
		s.admin = serveOn(ln, newAdminMux(s.reg, &s.ready, nil, s.logger))
	}
	state, err := replay(n.log, s.logger, s.coreMetrics, time.Now)
	if err != nil {
		return fmt.Errorf("stream %s: %w", s.cfg.stream, err)
	}
	s.startChat(n.log, state, n, n.writable)
	admin := ""
	if s.admin != nil {
		admin = s.admin.ln.Addr().String()
	}
	s.logger.Info("listening", "addr", s.public.ln.Addr().String(), "admin", admin, "nats", n.nc.ConnectedUrlRedacted(),
		"stream", s.cfg.stream, "replicas", s.cfg.replicas, "tls", s.certs != nil)
	return nil
}
