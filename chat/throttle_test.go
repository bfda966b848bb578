package chat

import (
	"fmt"
	"testing"
	"time"
)

// testThrottlePolicy is small enough to walk through by hand: a name is
// free for wrong passwords from 2 addresses, an address for 3 wrong
// passwords, then 1 s, 2 s, 4 s, 8 s, 8 s...
func testThrottlePolicy() throttlePolicy {
	return throttlePolicy{
		freeName: 2, freeAddr: 3,
		backoff: time.Second, maxBackoff: 8 * time.Second,
		forget:     time.Minute,
		maxEntries: 4, addrsPerName: 2,
	}
}

// throttleStep is one attempt at a time since the start: admit (or
// admitNew), and if admitted end it as do says.
type throttleStep struct {
	at         time.Duration
	name, addr string
	// do: "wrong" or "right" (admit and end so), "hold" (admit and keep
	// it in flight), "release" (end every held one unchecked; no
	// admission), "new" (admitNew: a new name's password).
	do   string
	wait time.Duration // what admit must answer; 0 admits
}

func TestLoginThrottle(t *testing.T) {
	const ann, bob, carl = "ann", "bob", "carl"
	const a, b, c, d, e = "10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5"
	s := time.Second
	for _, tt := range []struct {
		name  string
		steps []throttleStep
	}{
		{"an address's free wrong passwords, then backoff doubling up to the cap", []throttleStep{
			{0, ann, a, "wrong", 0}, {0, ann, a, "wrong", 0}, {0, ann, a, "wrong", 0},
			{0, ann, a, "wrong", 1 * s},
			{s / 2, bob, a, "wrong", s / 2}, // the address, whatever the name
			{1 * s, ann, a, "wrong", 0},
			{2 * s, ann, a, "wrong", 1 * s},
			{3 * s, ann, a, "wrong", 0},
			{6 * s, ann, a, "wrong", 1 * s},
			{7 * s, ann, a, "wrong", 0},
			{15 * s, ann, a, "wrong", 0},
			{22 * s, ann, a, "wrong", 1 * s}, // 8 s again: the cap
			{23 * s, ann, a, "right", 0},
		}},
		{"one address guessing does not lock the owner out from another", []throttleStep{
			{0, ann, a, "wrong", 0}, {0, ann, a, "wrong", 0}, {0, ann, a, "wrong", 0},
			{0, ann, a, "wrong", 1 * s},
			{0, ann, b, "right", 0},
			{1 * s, ann, a, "wrong", 0},
			{3 * s, ann, a, "wrong", 0},
			{3 * s, ann, c, "wrong", 0}, // the name's second address: now it waits
			{3 * s, ann, d, "right", 1 * s},
			{4 * s, ann, d, "right", 0},
		}},
		{"wrong passwords from several addresses lock the name for every address", []throttleStep{
			{0, ann, a, "wrong", 0}, {0, ann, a, "wrong", 0}, // a counts once for the name
			{0, ann, b, "right", 0},
			{0, ann, a, "wrong", 0}, {0, ann, b, "wrong", 0},
			{0, ann, c, "right", 1 * s},
			{0, bob, c, "right", 0}, // only ann's name
			{1 * s, ann, c, "wrong", 0},
			{1 * s, ann, d, "right", 2 * s},
			{3 * s, ann, d, "right", 0},
		}},
		{"a right password clears the name but not the address", []throttleStep{
			{0, ann, a, "wrong", 0}, {0, ann, b, "wrong", 0},
			{0, ann, c, "wrong", 1 * s},
			{1 * s, ann, b, "right", 0},
			{1 * s, ann, c, "wrong", 0}, {1 * s, ann, d, "wrong", 0},
			{1 * s, ann, e, "right", 1 * s}, // two new addresses again
			{1 * s, bob, a, "wrong", 0}, {1 * s, bob, a, "wrong", 0},
			{1 * s, bob, a, "right", 1 * s}, // a's third wrong one locked a
			{2 * s, bob, a, "right", 0},
			{2 * s, carl, a, "wrong", 0},
			{2 * s, carl, a, "wrong", 2 * s}, // a's right one cleared nothing of a's
		}},
		{"attempts in flight count against the free ones", []throttleStep{
			{0, ann, a, "hold", 0}, {0, ann, b, "hold", 0},
			{0, ann, c, "hold", busyRetry}, // the name's two free ones are taken
			{0, bob, a, "hold", 0}, {0, carl, a, "hold", 0},
			{0, "dave", a, "hold", busyRetry}, // a's three free ones are taken
			{0, "", "", "release", 0},
			{0, carl, a, "wrong", 0}, // unchecked attempts counted nothing
			{0, carl, a, "wrong", 0},
			{0, carl, a, "wrong", 0},
		}},
		{"in its backoff an address has one attempt checked at a time", []throttleStep{
			{0, ann, a, "wrong", 0}, {0, ann, a, "wrong", 0}, {0, ann, a, "wrong", 0},
			{1 * s, bob, a, "hold", 0},
			{1 * s, carl, a, "hold", busyRetry},
			{1 * s, "", "", "release", 0},
			{1 * s, carl, a, "wrong", 0},
			{1 * s, carl, a, "wrong", 2 * s},
		}},
		{"a new name's password waits only for the address's backoff", []throttleStep{
			{0, ann, a, "wrong", 0}, {0, ann, b, "wrong", 0},
			{0, "dave", a, "new", 0}, // ann's lock is not a's
			{0, bob, a, "wrong", 0}, {0, bob, a, "wrong", 0},
			{0, "dave", a, "new", 1 * s},
			{0, "dave", c, "new", 0},
			{1 * s, "dave", a, "new", 0},
		}},
		{"records are forgotten a while after their latest wrong password", []throttleStep{
			{0, ann, a, "wrong", 0}, {0, ann, a, "wrong", 0}, {0, ann, a, "wrong", 0},
			{1 * s, ann, a, "wrong", 0},
			{1*s + time.Minute - 1, ann, a, "wrong", 0},
			{1*s + time.Minute - 1, ann, a, "wrong", 4 * s}, // still remembered
			{1*s + 2*time.Minute - 1, ann, a, "wrong", 0},   // counting starts over
			{1*s + 2*time.Minute - 1, ann, a, "wrong", 0},
			{1*s + 2*time.Minute - 1, ann, a, "wrong", 0},
			{1*s + 2*time.Minute - 1, ann, a, "wrong", 1 * s},
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			runThrottleSteps(t, newLoginThrottle(testThrottlePolicy()), tt.steps)
		})
	}
}

func runThrottleSteps(t *testing.T, th *loginThrottle, steps []throttleStep) {
	t.Helper()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var held []attempt
	for i, st := range steps {
		now := start.Add(st.at)
		var wait time.Duration
		switch st.do {
		case "release":
			for _, at := range held {
				th.done(at, notChecked, now)
			}
			held = nil
			continue
		case "new":
			wait = th.admitNew(st.addr, now)
		default:
			var at attempt
			at, wait = th.admit(st.name, st.addr, now)
			switch {
			case wait > 0:
			case st.do == "hold":
				held = append(held, at)
			case st.do == "right":
				th.done(at, passwordRight, now)
			default:
				th.done(at, passwordWrong, now)
			}
		}
		if wait != st.wait {
			t.Fatalf("step %d (%+v): wait %v, want %v", i, st, wait, st.wait)
		}
	}
}

// TestLoginThrottle_Bounded checks that a flood of distinct names and
// addresses keeps each table at its bound, also with attempts in flight
// whose records are evicted meanwhile.
func TestLoginThrottle_Bounded(t *testing.T) {
	p := testThrottlePolicy()
	th := newLoginThrottle(p)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	first, wait := th.admit("first", "10.0.0.1", now)
	if wait != 0 {
		t.Fatalf("first attempt waits %v", wait)
	}
	for i := range 100 {
		at, wait := th.admit(fmt.Sprintf("user%d", i), fmt.Sprintf("10.1.%d.%d", i/256, i%256), now)
		if wait != 0 {
			t.Fatalf("attempt %d waits %v", i, wait)
		}
		th.done(at, passwordWrong, now)
		if len(th.names.entries) > p.maxEntries || len(th.addrs.entries) > p.maxEntries ||
			th.names.order.Len() != len(th.names.entries) || th.addrs.order.Len() != len(th.addrs.entries) {
			t.Fatalf("after %d: %d names (list %d), %d addresses (list %d), bound %d", i+1,
				len(th.names.entries), th.names.order.Len(), len(th.addrs.entries), th.addrs.order.Len(), p.maxEntries)
		}
	}
	th.done(first, passwordWrong, now) // its records were evicted long ago
	if _, ok := th.names.entries["first"]; !ok {
		t.Error("the late wrong password was not recorded")
	}
	if len(th.names.entries) > p.maxEntries || len(th.addrs.entries) > p.maxEntries {
		t.Fatalf("%d names, %d addresses, bound %d", len(th.names.entries), len(th.addrs.entries), p.maxEntries)
	}
}

func TestBackoffAfter(t *testing.T) {
	for _, tt := range []struct {
		n    int
		want time.Duration
	}{{0, time.Second}, {1, 2 * time.Second}, {9, 512 * time.Second}, {10, 10 * time.Minute}, {63, 10 * time.Minute}, {1 << 30, 10 * time.Minute}} {
		if got := backoffAfter(tt.n, time.Second, 10*time.Minute); got != tt.want {
			t.Errorf("backoffAfter(%d) = %v, want %v", tt.n, got, tt.want)
		}
	}
}

func TestAddressKey(t *testing.T) {
	for _, tt := range []struct{ remote, want string }{
		{"192.0.2.7:51234", "192.0.2.7"},
		{"[::ffff:192.0.2.7]:51234", "192.0.2.7"},
		{"[2001:db8:1:2:3:4:5:6]:443", "2001:db8:1:2::/64"},
		{"[2001:db8:1:2:ffff::1]:443", "2001:db8:1:2::/64"}, // the same /64
		{"[fe80::1%eth0]:80", "fe80::/64"},
		{"@", "@"}, // a unix socket's peer
	} {
		if got := addressKey(tt.remote); got != tt.want {
			t.Errorf("addressKey(%q) = %q, want %q", tt.remote, got, tt.want)
		}
	}
}
