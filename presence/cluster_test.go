package presence_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/chateau/chateau/internal/natstest"
	"github.com/chateau/chateau/presence"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// errNoPeers is JetStream's error code for "no suitable peers for
// placement": a cluster that has just elected its meta leader may not
// know yet that its other servers are online.
const errNoPeers jetstream.ErrorCode = 10005

// mustOpenFirst opens the first node on a new cluster, which creates the
// replicated buckets, once the cluster knows its servers are online.
func mustOpenFirst(t *testing.T, url string, opt presence.Options, connOpts ...nats.Option) *node {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for {
		n, err := open(t, url, opt, connOpts...)
		if err == nil {
			return n
		}
		var apiErr *jetstream.APIError
		if !errors.As(err, &apiErr) || apiErr.ErrorCode != errNoPeers || time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// replicated returns fast Options for buckets with three replicas.
func replicated() presence.Options {
	opt := fast()
	opt.Replicas = 3
	return opt
}

// TestPresence_Cluster_ClaimRace races two nodes, connected to different
// servers of a cluster, for names in buckets with three replicas, where
// the server reports a lost race with another error code than a single
// server does.
func TestPresence_Cluster_ClaimRace(t *testing.T) {
	servers := natstest.StartCluster(t, 3)
	a := mustOpenFirst(t, servers[0].URL(), replicated())
	b := mustOpen(t, servers[1].URL(), replicated())
	names := make([]string, 20)
	for i := range names {
		names[i] = fmt.Sprintf("racer.%d", i)
	}
	race(t, a, b, names)

	mustClaim(t, a, "alice", false, true)
	eventually(t, "alice online in B's Others", seesOnline(b, "alice"))
	mustClaim(t, b, "alice", false, false)
	mustClaim(t, b, "alice", true, true)
	mustLose(t, a, "alice")
}

// TestPresence_Cluster_LostWhileCutOff cuts a node off from NATS for
// longer than NodeTTL by stopping the one server it may use: another node
// claims its name as a dead node's, and when the server is back, the node
// learns that it lost the name.
func TestPresence_Cluster_LostWhileCutOff(t *testing.T) {
	servers := natstest.StartCluster(t, 3)
	a := mustOpenFirst(t, servers[0].URL(), replicated(),
		nats.IgnoreDiscoveredServers(), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	b := mustOpen(t, servers[1].URL(), replicated())
	mustClaim(t, a, "ivy", false, true)
	eventually(t, "ivy online in B's Others", seesOnline(b, "ivy"))

	servers[0].Shutdown()
	servers[0].WaitForShutdown()
	eventually(t, "ivy offline in B's Others", seesOffline(b, "ivy"))
	mustClaim(t, b, "ivy", false, true)

	servers[0].Restart(t)
	natstest.WaitMetaLeader(t, servers)
	mustLose(t, a, "ivy")
	eventually(t, "ivy (now on B) in A's Others", seesOnline(a, "ivy"))
	mustClaim(t, a, "jay", false, true) // A works again
	eventually(t, "jay online in B's Others", seesOnline(b, "jay"))
	closeNow(t, a, b)
}
