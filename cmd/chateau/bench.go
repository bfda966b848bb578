package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/chateau/chateau/internal/loadgen"
)

// BenchCommand drives load at a running server, or at several nodes of one
// cluster, over real WebSockets and reports throughput, latency, errors
// and whether every accepted message was delivered exactly once.
type BenchCommand struct {
	Stdout, Stderr io.Writer
}

// Run parses args and runs a load run, or with --idle an idle-connection
// run. It prints a progress line a second on Stderr and the report on
// Stdout. Losing or duplicating a delivery is an error (exit 1); so is a
// failed setup. An interrupted run (ctx ends) still reports.
func (c *BenchCommand) Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	urlList := fs.String("url", "ws://127.0.0.1:8888/ws", "the server's WebSocket endpoint, or a comma-separated list of several nodes' endpoints: user i connects to the (i mod n)-th, so a chat's members sit on different nodes")
	users := fs.Int("users", 100, "users to register: chats*members (given alone, it sets -members)")
	chats := fs.Int("chats", 10, "chats to create")
	members := fs.Int("members", 10, "members of each chat, all distinct users")
	senders := fs.Int("senders", 0, "users that send, spread over the chats; the others only listen (0: all)")
	rate := fs.Float64("rate", 0, "total messages per second over all senders, paced by the clock (0: flat out)")
	duration := fs.Duration("duration", 10*time.Second, "how long to send, or with -idle to hold the connections")
	window := fs.Int("window", 16, "requests in flight per sender; with -rate a send due while it is full counts as \"window full\"")
	size := fs.Int("size", 64, "content bytes of each message")
	drain := fs.Duration("drain", 5*time.Second, "how long to wait after sending for the remaining answers and deliveries")
	asJSON := fs.Bool("json", false, "print the report as one JSON object")
	idle := fs.Int("idle", 0, "instead of sending, open this many idle registered connections and hold them for -duration")
	serverPID := fs.Int("server-pid", 0, "with -idle: the server's pid on this machine, to report its memory per connection (start it fresh: Go keeps memory it freed)")
	if err := parseFlags(fs, args, c.Stdout); err != nil {
		return err
	}
	set := make(map[string]bool)
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	urls := splitList(*urlList)
	switch {
	case len(urls) == 0:
		return usagef("bench: -url needs at least one endpoint")
	case *duration <= 0:
		return usagef("bench: -duration must be positive")
	case *idle < 0:
		return usagef("bench: -idle must not be negative")
	case *serverPID < 0, *serverPID > 0 && *idle == 0:
		return usagef("bench: -server-pid needs -idle")
	case *serverPID > 0 && len(urls) > 1:
		return usagef("bench: -server-pid measures one server: give one -url")
	}

	if *idle > 0 {
		c.raiseFileLimit(*idle)
		rep, err := loadgen.Idle(ctx, loadgen.IdleConfig{
			URLs: urls, Conns: *idle, Hold: *duration, ServerPID: *serverPID, Progress: c.Stderr,
		})
		if err != nil {
			return err
		}
		return c.print(*asJSON, rep, func(w io.Writer) { printIdle(w, rep) })
	}

	if err := shapeChats(set, users, chats, members); err != nil {
		return err
	}
	switch {
	case *chats < 1 || *members < 2:
		return usagef("bench: need at least 1 chat of at least 2 members")
	case *users != *chats**members:
		return usagef("bench: -users %d is not -chats %d times -members %d", *users, *chats, *members)
	case *senders < 0 || *senders > *users:
		return usagef("bench: -senders must be between 0 and -users (%d)", *users)
	case *rate < 0:
		return usagef("bench: -rate must not be negative")
	case *window < 1:
		return usagef("bench: -window must be at least 1")
	case *size < 1:
		return usagef("bench: -size must be at least 1")
	case *drain < 0:
		return usagef("bench: -drain must not be negative")
	}
	c.raiseFileLimit(*users)
	rep, err := loadgen.Run(ctx, loadgen.Config{
		URLs: urls, Chats: *chats, Members: *members, Senders: *senders, Rate: *rate,
		Duration: *duration, Drain: *drain, Window: *window, Size: *size, Progress: c.Stderr,
	})
	if err != nil {
		return err
	}
	if err := c.print(*asJSON, rep, func(w io.Writer) { printLoad(w, rep) }); err != nil {
		return err
	}
	return rep.Failed()
}

// shapeChats makes users, chats and members agree: the one of them not
// given (set names the flags given) follows from the others.
func shapeChats(set map[string]bool, users, chats, members *int) error {
	switch {
	case set["users"] && !set["members"]:
		if *chats < 1 || *users%*chats != 0 {
			return usagef("bench: -users %d is not a multiple of -chats %d", *users, *chats)
		}
		*members = *users / *chats
	case set["users"] && !set["chats"]:
		if *members < 1 || *users%*members != 0 {
			return usagef("bench: -users %d is not a multiple of -members %d", *users, *members)
		}
		*chats = *users / *members
	case !set["users"]:
		*users = *chats * *members
	}
	return nil
}

// raiseFileLimit raises the open-file limit as far as allowed, and says so
// on Stderr if that is still too low for conns connections.
func (c *BenchCommand) raiseFileLimit(conns int) {
	limit, err := loadgen.RaiseFileLimit()
	switch {
	case err != nil:
		fmt.Fprintf(c.Stderr, "bench: could not raise the open-file limit: %v\n", err)
	case limit < uint64(conns)+64:
		// Each connection is a file; the spare 64 are for everything else.
		fmt.Fprintf(c.Stderr, "bench: the open-file limit is %d, too low for %d connections: raise the hard limit (ulimit -Hn) or connections will fail\n", limit, conns)
	}
}

// print writes the report as JSON or, with table, as text.
func (c *BenchCommand) print(asJSON bool, rep any, table func(io.Writer)) error {
	if asJSON {
		return json.NewEncoder(c.Stdout).Encode(rep)
	}
	tw := tabwriter.NewWriter(c.Stdout, 0, 8, 2, ' ', 0)
	table(tw)
	return tw.Flush()
}

func printLoad(w io.Writer, r *loadgen.Report) {
	mode := "flat out"
	if r.Rate > 0 {
		mode = fmt.Sprintf("%g msgs/s", r.Rate)
	}
	fmt.Fprintf(w, "run\t%s: %d users, %d chats of %d, %d senders, %s, window %d, %d B\n",
		r.Run, r.Users, r.Chats, r.Members, r.Senders, mode, r.Window, r.Size)
	interrupted := ""
	if r.Interrupted {
		interrupted = " (interrupted)"
	}
	fmt.Fprintf(w, "sending\t%.2f s%s\n", r.Seconds, interrupted)
	fmt.Fprintf(w, "accepted\t%d of %d sent\t%.0f/s\n", r.Accepted, r.Sent, r.AcceptedPerSec)
	fmt.Fprintf(w, "deliveries\t%d\t%.0f/s\n", r.Deliveries, r.DeliveriesPerSec)
	a, d := r.AckLatency, r.DeliveryLatency
	fmt.Fprintf(w, "ack latency\tp50 %.3f ms\tp90 %.3f ms\tp99 %.3f ms\tp99.9 %.3f ms\tmax %.3f ms\n", a.P50, a.P90, a.P99, a.P999, a.Max)
	fmt.Fprintf(w, "delivery latency\tp50 %.3f ms\tp90 %.3f ms\tp99 %.3f ms\tp99.9 %.3f ms\tmax %.3f ms\n", d.P50, d.P90, d.P99, d.P999, d.Max)
	fmt.Fprintf(w, "errors\t%s\n", loadgen.FormatErrors(r.Errors))
	fmt.Fprintf(w, "exactly once\tlost %d, duplicates %d of %d expected\tdelivered unacked %d, unexpected %d, out of order %d\n",
		r.Lost, r.Duplicates, r.Expected, r.Unacked, r.Unexpected, r.OutOfOrder)
}

func printIdle(w io.Writer, r *loadgen.IdleReport) {
	interrupted := ""
	if r.Interrupted {
		interrupted = " (interrupted)"
	}
	fmt.Fprintf(w, "run\t%s: %d idle connections\n", r.Run, r.Requested)
	fmt.Fprintf(w, "connections\t%d opened, %d failed, %d dropped while held %.1f s%s\n", r.Opened, r.Failed, r.Dropped, r.HeldSeconds, interrupted)
	fmt.Fprintf(w, "errors\t%s\n", loadgen.FormatErrors(r.Errors))
	if r.ServerPID != 0 {
		fmt.Fprintf(w, "server rss\t%.1f MiB before, %.1f MiB after\t%.0f bytes per connection\n",
			float64(r.RSSBefore)/(1<<20), float64(r.RSSAfter)/(1<<20), r.BytesPerConn)
	}
}
