// Package presence tells which Chateau node each online user is on, shared
// by all nodes through two JetStream KeyValue buckets.
//
// The claims bucket maps each online name to the node that holds it: the
// key is the name in hex (a name may hold '.', which would split a KV key
// into subject tokens), the value the node's id. Every write to it is
// conditional on the key's revision (Create, Update, Delete with
// LastRevision), so when nodes race for a name the server decides, and
// exactly one of them wins.
//
// The nodes bucket holds one key per live node, put again every Heartbeat.
// Each node watches both buckets: a node whose heartbeats it has not
// received for NodeTTL, while receiving its own, is dead, and the names it
// held count as offline, within NodeTTL and a Heartbeat of its death. Node
// ids are never reused (a restarted process is a new node), so a dead
// node's claims stay in the bucket, harmless, until someone claims the
// name.
//
// The package knows NATS and names; it knows nothing of chat, sockets or
// passwords: whether a takeover is allowed is the caller's decision.
package presence

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/oklog/ulid/v2"
)

// Defaults of Options.
const (
	DefaultBucket    = "chateau-online"
	DefaultHeartbeat = 2 * time.Second
	DefaultNodeTTL   = 10 * time.Second
)

// nodesSuffix names the nodes bucket after the claims bucket.
const nodesSuffix = "-nodes"

// Bounds of the calls to NATS: opTimeout each call of Claim, Release and
// Open's setup; closeTimeout all that Close sends.
const (
	opTimeout    = 5 * time.Second
	closeTimeout = 3 * time.Second
)

// Errors returned by Open.
var (
	// ErrOptions means Options are inconsistent: Heartbeat must be
	// positive and shorter than NodeTTL, or every node would count as
	// dead between two of its heartbeats.
	ErrOptions = errors.New("presence: heartbeat must be positive and shorter than the node TTL")
)

// Errors returned by Claim.
var (
	// ErrClosed means Close was called.
	ErrClosed = errors.New("presence: closed")
	// ErrContended means the name's claim changed under every attempt of
	// this Claim (other nodes claiming and releasing it at once); nothing
	// was stored for this node. Trying again later may succeed.
	ErrContended = errors.New("presence: the name's claim kept changing; try again")
)

// Options configure Open. The zero value is valid.
type Options struct {
	// Bucket names the claims bucket; "" means DefaultBucket. The nodes
	// bucket is Bucket+"-nodes".
	Bucket string
	// Replicas of both buckets when Open creates them; 0 means 1.
	Replicas int
	// Node is this node's id; "" means a new random ULID. Use a new id for
	// every process: claims are the node's, and a restarted process holds
	// none of its predecessor's sessions.
	Node string
	// Heartbeat is how often the node says it is alive; 0 means
	// DefaultHeartbeat.
	Heartbeat time.Duration
	// NodeTTL is how long a node may go unheard, while this node hears
	// its own heartbeats, before it counts as dead and its users as
	// offline; 0 means DefaultNodeTTL. It is also the age at which the
	// nodes bucket, when Open creates it, drops a heartbeat.
	NodeTTL time.Duration
	// Now is the clock that times heartbeats as they arrive; nil means
	// time.Now.
	Now func() time.Time
	// Logger receives NATS errors met in the background; nil discards.
	Logger *slog.Logger
}

// withDefaults fills in the zero fields of o and checks it.
func (o Options) withDefaults() (Options, error) {
	if o.Bucket == "" {
		o.Bucket = DefaultBucket
	}
	if o.Replicas == 0 {
		o.Replicas = 1
	}
	if o.Node == "" {
		o.Node = ulid.Make().String()
	}
	if o.Heartbeat == 0 {
		o.Heartbeat = DefaultHeartbeat
	}
	if o.NodeTTL == 0 {
		o.NodeTTL = DefaultNodeTTL
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Heartbeat <= 0 || o.Heartbeat >= o.NodeTTL {
		return o, fmt.Errorf("%w: heartbeat %v, node TTL %v", ErrOptions, o.Heartbeat, o.NodeTTL)
	}
	return o, nil
}

// Presence is one node's view of who is online where, and its claims.
//
// A Presence is safe for concurrent use. Claim waits for NATS (bounded);
// Release, Others and Lost never do: Others reads a map that two watch
// goroutines keep up to date, and releases are sent, in the order of the
// Release calls, by a goroutine of their own. A Presence lives until Close,
// which must be called once its node stops serving; after Close, Claim
// returns ErrClosed, Release does nothing, Others answers from the view
// as the watches left it, and the Lost channel is closed. The nats.Conn stays the caller's:
// Presence never closes it, and it must outlive the Presence for Close to
// take the node's claims offline.
type Presence struct {
	opt    Options
	claims jetstream.KeyValue // name (hex) -> node id
	nodes  jetstream.KeyValue // node id (hex) -> node id, put every Heartbeat

	closeMu sync.RWMutex // held shared by Claim, exclusively by Close
	mu      sync.Mutex
	names   map[string]claim     // by key, as the claims watch last saw them
	changed chan struct{}        // closed when names changes; nil until awaited
	others  chan struct{}        // cap 1: names changed (Changed)
	heard   map[string]time.Time // by node id: when its last heartbeat arrived
	own     map[string]uint64    // by key: revision of this node's claims
	release []held               // queued by Release, sent by releaseLoop
	lost    []string             // names to send on lostC, by lostLoop
	closed  bool

	releaseWake     chan struct{} // cap 1: a release was queued
	lostWake        chan struct{} // cap 1: a lost name was queued
	lostC           chan string
	done            chan struct{}  // closed by Close after the senders return: lostLoop returns
	senders         sync.WaitGroup // heartbeatLoop, releaseLoop
	loops           sync.WaitGroup // the watches' follow, lostLoop
	nodesW, claimsW *watched
	// watching is the watchers' context; stopWatching ends them.
	watching     context.Context
	stopWatching context.CancelFunc
	// closing ends when Close begins: heartbeats stop, releases drain.
	closing      context.Context
	beginClosing context.CancelFunc
	closeOnce    sync.Once
	// closeDeadline bounds what Close sends; set before closing ends.
	closeDeadline time.Time
}

// claim is a key of the claims bucket as last seen: whose name it is,
// which node holds it ("" once deleted) and at which revision.
type claim struct {
	name string
	node string
	rev  uint64
}

// held is one of this node's claims: its key and revision.
type held struct {
	key string
	rev uint64
}

// Open creates the buckets if they do not exist yet, says this node is
// alive, and loads the buckets' contents before it returns, so that Others
// and Claim know every node and claim stored at that time. ctx bounds only
// Open itself (and at most a few seconds); the Presence runs until Close.
// Open returns ErrOptions, or the NATS error that stopped it.
func Open(ctx context.Context, nc *nats.Conn, opt Options) (*Presence, error) {
	opt, err := opt.withDefaults()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("presence: %w", err)
	}
	p := &Presence{
		opt:         opt,
		names:       make(map[string]claim),
		heard:       make(map[string]time.Time),
		own:         make(map[string]uint64),
		releaseWake: make(chan struct{}, 1),
		lostWake:    make(chan struct{}, 1),
		others:      make(chan struct{}, 1),
		lostC:       make(chan string),
		done:        make(chan struct{}),
	}
	if p.claims, err = bucket(ctx, js, opt, opt.Bucket, 0); err != nil {
		return nil, err
	}
	if p.nodes, err = bucket(ctx, js, opt, opt.Bucket+nodesSuffix, opt.NodeTTL); err != nil {
		return nil, err
	}
	if err := p.start(ctx); err != nil {
		p.stopWatchers()
		p.beginClosing()
		return nil, err
	}
	return p, nil
}

// bucket binds the KV bucket name, creating it with History 1, file
// storage, opt.Replicas and maxAge if it does not exist. An existing
// bucket is used as it is, even if made with other settings.
func bucket(ctx context.Context, js jetstream.JetStream, opt Options, name string, maxAge time.Duration) (jetstream.KeyValue, error) {
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:   name,
		History:  1,
		TTL:      maxAge,
		Storage:  jetstream.FileStorage,
		Replicas: opt.Replicas,
	})
	if errors.Is(err, jetstream.ErrBucketExists) {
		kv, err = js.KeyValue(ctx, name)
	}
	if err != nil {
		return nil, fmt.Errorf("presence: bucket %s: %w", name, err)
	}
	return kv, nil
}

// Lost delivers the names that another node took from this one: by
// takeover, or, when this node was cut off from NATS for longer than
// NodeTTL, as a dead node's. The name is no longer this node's when it
// arrives; its session should end. Names are delivered in the order the
// claims watch saw them go, none is dropped while the Presence is open,
// and the channel is closed by Close.
func (p *Presence) Lost() <-chan string { return p.lostC }

// Changed gets a value after the claims watch saw a claim or a release,
// which may change what Others returns; values do not queue up beyond
// one. A node's death changes Others without one: it is a matter of time
// passing, so a caller that must see it calls Others now and then.
func (p *Presence) Changed() <-chan struct{} { return p.others }

// Others returns the names online on other live nodes, in no order, as
// this node's watch of the buckets knows them. It never waits for NATS.
// While this node does not hear its own heartbeats (NATS is unreachable),
// its view is frozen: no node counts as dead until it hears itself again.
func (p *Presence) Others() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, c := range p.names {
		if c.node != "" && c.node != p.opt.Node && p.aliveLocked(c.node) {
			out = append(out, c.name)
		}
	}
	return out
}

// keyOf is the claims bucket's key for name.
func keyOf(name string) string { return hex.EncodeToString([]byte(name)) }

// nameOf is the name whose key is key.
func nameOf(key string) (string, error) {
	b, err := hex.DecodeString(key)
	return string(b), err
}
