// Package natstest starts real NATS servers with JetStream inside a test
// process: one server, or a cluster of several on loopback ports. Every
// server stores its streams in files under t.TempDir() and fsyncs every
// write (sync_interval: always), as Chateau's README says to run them.
package natstest

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// readyWait bounds the wait for a server to accept connections, and for a
// cluster to elect its JetStream meta leader: generous, for a 2-core
// machine running other tests too.
const readyWait = time.Minute

// Server is one running NATS server. Shutdown stops it; Restart starts a
// new process-local server on the same ports and store directory, as a
// machine that comes back would.
type Server struct {
	*server.Server
	opts *server.Options
}

// Start starts one NATS server with JetStream and stops it when the test
// ends.
func Start(t testing.TB) *Server {
	t.Helper()
	return run(t, options(t, "n1"))
}

// StartCluster starts n servers forming one JetStream cluster and stops
// them when the test ends. It returns once the cluster has a meta leader.
//
// A cluster's servers must know each other's route ports before they
// start, so the ports are picked free beforehand; another test process
// may take one meanwhile. A server that is not ready within tryWait is
// taken for that, and the cluster is started again on other ports.
func StartCluster(t testing.TB, n int) []*Server {
	t.Helper()
	for try := 1; ; try++ {
		servers, ok := tryCluster(t, n)
		if ok {
			WaitMetaLeader(t, servers)
			return servers
		}
		for _, s := range servers {
			s.Shutdown()
		}
		if try == clusterTries {
			t.Fatalf("natstest: no cluster of %d after %d tries", n, try)
		}
	}
}

// A cluster is started at most clusterTries times, each server waited for
// at most tryWait.
const (
	clusterTries = 3
	tryWait      = 15 * time.Second
)

// tryCluster starts n servers on ports picked free, routing to each
// other; it reports false, with the servers started so far, if one is not
// ready within tryWait.
func tryCluster(t testing.TB, n int) ([]*Server, bool) {
	t.Helper()
	ports := make([]int, n)
	routes := make([]string, n)
	for i := range ports {
		ports[i] = freePort(t)
		routes[i] = fmt.Sprintf("nats://127.0.0.1:%d", ports[i])
	}
	servers := make([]*Server, 0, n)
	for i := range n {
		opts := options(t, fmt.Sprintf("n%d", i+1))
		opts.Port = freePort(t)
		opts.Cluster.Name = "chateau-test"
		opts.Cluster.Host = "127.0.0.1"
		opts.Cluster.Port = ports[i]
		opts.Routes = server.RoutesFromStr(strings.Join(routes, ","))
		s, ok := start(t, opts, tryWait)
		if s != nil {
			servers = append(servers, s)
		}
		if !ok {
			return servers, false
		}
	}
	return servers, true
}

// WaitMetaLeader waits until every running server of the cluster knows the
// JetStream meta leader, and the leader counts every running server as a
// peer that can hold a stream.
func WaitMetaLeader(t testing.TB, servers []*Server) {
	t.Helper()
	deadline := time.Now().Add(readyWait)
	for time.Now().Before(deadline) {
		ready, running, peers := true, 0, 0
		for _, s := range servers {
			if !s.Running() {
				continue
			}
			running++
			ready = ready && s.JetStreamIsCurrent()
			if s.JetStreamIsLeader() {
				peers = len(s.JetStreamClusterPeers())
			}
		}
		if ready && peers >= running {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("natstest: no JetStream meta leader after %v", readyWait)
}

// URL is the client URL of s.
func (s *Server) URL() string { return s.ClientURL() }

// URLs joins the client URLs of servers with commas, as nats.Connect takes
// them.
func URLs(servers []*Server) string {
	urls := make([]string, len(servers))
	for i, s := range servers {
		urls[i] = fmt.Sprintf("nats://127.0.0.1:%d", s.opts.Port)
	}
	return strings.Join(urls, ",")
}

// Restart starts s again, on its ports and store directory, after
// Shutdown.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	opts := s.opts.Clone()
	ns := run(t, opts)
	s.Server, s.opts = ns.Server, ns.opts
}

func options(t testing.TB, name string) *server.Options {
	return &server.Options{
		ServerName: name,
		Host:       "127.0.0.1",
		Port:       server.RANDOM_PORT,
		JetStream:  true,
		StoreDir:   t.TempDir(),
		SyncAlways: true,
		NoLog:      true,
		NoSigs:     true,
	}
}

// run starts a server with opts, failing the test unless it is ready
// within readyWait.
func run(t testing.TB, opts *server.Options) *Server {
	t.Helper()
	s, ok := start(t, opts, readyWait)
	if !ok {
		t.Fatalf("natstest: server %s not ready after %v", opts.ServerName, readyWait)
	}
	return s
}

// start starts a server with opts, to be stopped when the test ends, and
// reports whether it was ready within wait. It records in opts the port
// the server chose, so that a Restart listens where clients look for it.
func start(t testing.TB, opts *server.Options, wait time.Duration) (*Server, bool) {
	t.Helper()
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatalf("natstest: %v", err)
	}
	go s.Start()
	t.Cleanup(func() {
		s.Shutdown()
		s.WaitForShutdown()
	})
	if !s.ReadyForConnections(wait) {
		s.Shutdown()
		return nil, false
	}
	opts.Port = s.Addr().(*net.TCPAddr).Port
	return &Server{Server: s, opts: opts}, true
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("natstest: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
