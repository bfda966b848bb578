package loadgen

import (
	"fmt"
	"strings"
	"time"
)

// Report is what a load run measured. Latencies are in milliseconds. In
// open loop, latency counts from when a message was due, not from when it
// was written, so that a slow client or server cannot hide its own delay.
type Report struct {
	Run         string  `json:"run"`
	URL         string  `json:"url"` // the endpoints, comma-separated
	Users       int     `json:"users"`
	Chats       int     `json:"chats"`
	Members     int     `json:"members"`
	Senders     int     `json:"senders"`
	Rate        float64 `json:"rate"`
	Window      int     `json:"window"`
	Size        int     `json:"size"`
	Seconds     float64 `json:"seconds"` // how long sending lasted
	Interrupted bool    `json:"interrupted"`

	Sent             int64   `json:"sent"`
	Accepted         int64   `json:"accepted"`
	AcceptedPerSec   float64 `json:"accepted_per_s"`
	Deliveries       int64   `json:"deliveries"`
	DeliveriesPerSec float64 `json:"deliveries_per_s"`
	AckLatency       Latency `json:"ack_latency_ms"`
	DeliveryLatency  Latency `json:"delivery_latency_ms"`
	// Errors counts refused or failed sends by status or kind.
	Errors map[string]int64 `json:"errors"`

	// Expected is the deliveries that the accepted messages owe to the
	// members still connected at the end; Lost of them never came, and
	// Duplicates are deliveries beyond the first of a message to a member.
	Expected   int64 `json:"expected_deliveries"`
	Lost       int64 `json:"lost"`
	Duplicates int64 `json:"duplicates"`
	// Unacked counts messages delivered that their sender never saw
	// accepted; Unexpected, deliveries no bench member of the chat sent, or
	// labelled with another chat; OutOfOrder, deliveries whose id is not
	// above the member's previous one (the server promises log order).
	Unacked    int64 `json:"delivered_unacked"`
	Unexpected int64 `json:"unexpected"`
	OutOfOrder int64 `json:"out_of_order"`
}

// progress writes a line a second to cfg.Progress until stop.
func (r *runner) progress(start time.Time, stop <-chan struct{}) {
	if r.cfg.Progress == nil {
		return
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	ackMark := make([]int, len(r.users))
	delMark := make([]int, len(r.users))
	var acks, dels []time.Duration
	var lastAcc, lastDel int64
	last := start
	for {
		select {
		case <-stop:
			return
		case now := <-tick.C:
			acks, dels = acks[:0], dels[:0]
			for i, u := range r.users {
				acks, ackMark[i] = u.ackLat.since(acks, ackMark[i])
				dels, delMark[i] = u.delLat.since(dels, delMark[i])
			}
			acc := r.accepted.Load()
			del, _ := r.delivered()
			secs := now.Sub(last).Seconds()
			a, d := summarize(acks), summarize(dels)
			fmt.Fprintf(r.cfg.Progress, "bench %3.0fs: %8.0f accepted/s %9.0f deliveries/s  ack p50 %.2fms p99 %.2fms max %.2fms  delivery p50 %.2fms p99 %.2fms  errors %d\n",
				now.Sub(start).Seconds(), float64(acc-lastAcc)/secs, float64(del-lastDel)/secs,
				a.P50, a.P99, a.Max, d.P50, d.P99, r.errs.total())
			lastAcc, lastDel, last = acc, del, now
		}
	}
}

// report sums up the run; every reader must have returned.
func (r *runner) report(seconds float64, interrupted bool) *Report {
	deliveries, _ := r.delivered()
	rep := &Report{
		Run: r.cfg.Run, URL: strings.Join(r.cfg.URLs, ","), Users: len(r.users), Chats: r.cfg.Chats, Members: r.cfg.Members,
		Senders: r.cfg.Senders, Rate: r.cfg.Rate, Window: r.cfg.Window, Size: r.cfg.Size,
		Seconds: seconds, Interrupted: interrupted,
		Sent: r.sent.Load(), Accepted: r.accepted.Load(), Deliveries: deliveries,
	}
	rep.AcceptedPerSec = float64(rep.Accepted) / seconds
	rep.DeliveriesPerSec = float64(rep.Deliveries) / seconds
	var acks, dels []time.Duration
	for _, u := range r.users {
		acks, _ = u.ackLat.since(acks, 0)
		dels, _ = u.delLat.since(dels, 0)
		if u.dropped != nil {
			r.errs.add(dropKey(u.dropped), 1)
		}
		if n := len(u.inflight); n > 0 {
			r.errs.add("no answer", int64(n))
		}
	}
	rep.AckLatency, rep.DeliveryLatency = summarize(acks), summarize(dels)
	r.check(rep)
	rep.Errors = r.errs.snapshot()
	return rep
}

// check compares what the senders saw accepted with what the members
// received.
func (r *runner) check(rep *Report) {
	m := r.cfg.Members
	for _, s := range r.users {
		acked := make([]bool, s.lastSeq.Load()+1)
		for _, seq := range s.acked {
			acked[seq] = true
		}
		for _, rcv := range r.users[s.chat*m : (s.chat+1)*m] {
			if rcv == s {
				continue
			}
			counts := rcv.recv[s.pos]
			if rcv.dropped == nil {
				for _, seq := range s.acked {
					rep.Expected++
					if int(seq) >= len(counts) || counts[seq] == 0 {
						rep.Lost++
					}
				}
			}
			for seq, n := range counts {
				if n > 1 {
					rep.Duplicates += int64(n) - 1
				}
				if n > 0 && !acked[seq] {
					rep.Unacked++
				}
			}
		}
	}
	for _, u := range r.users {
		rep.Unexpected += u.unexpected
		rep.OutOfOrder += u.outOfOrder
	}
}

// Failed reports why a run's deliveries were wrong, or nil.
func (rep *Report) Failed() error {
	if rep.Lost > 0 || rep.Duplicates > 0 {
		return fmt.Errorf("%d of %d deliveries lost, %d duplicated", rep.Lost, rep.Expected, rep.Duplicates)
	}
	return nil
}
