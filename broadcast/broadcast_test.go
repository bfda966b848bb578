package broadcast_test

import (
	"errors"
	"testing"
	"time"

	"github.com/chateau/chateau/broadcast"
	"github.com/chateau/chateau/internal/natstest"
	"github.com/nats-io/nats.go"
)

const waitFor = 5 * time.Second

func mustOpen(t *testing.T, url, subject string) *broadcast.Broadcast {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	b, err := broadcast.Open(nc, subject)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = b.Close()
		nc.Close()
	})
	if err := nc.Flush(); err != nil { // the subscription is in place
		t.Fatal(err)
	}
	return b
}

// TestBroadcast_Publish: a notice reaches the other node, not its own.
func TestBroadcast_Publish(t *testing.T) {
	url := natstest.Start(t).URL()
	a, b := mustOpen(t, url, "chateau-typing"), mustOpen(t, url, "chateau-typing")
	a.Publish([]byte("one"))
	a.Publish([]byte("two"))
	for _, want := range []string{"one", "two"} {
		select {
		case got := <-b.Received():
			if string(got) != want {
				t.Fatalf("b got %q, want %q", got, want)
			}
		case <-time.After(waitFor):
			t.Fatalf("b got nothing within %v", waitFor)
		}
	}
	// b's own notice reaches a, and a's own ones never came back to a.
	b.Publish([]byte("three"))
	select {
	case got := <-a.Received():
		if string(got) != "three" {
			t.Fatalf("a got %q, want b's notice", got)
		}
	case <-time.After(waitFor):
		t.Fatal("a got nothing")
	}
}

func TestOpen_BadSubject(t *testing.T) {
	nc, err := nats.Connect(natstest.Start(t).URL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	for _, s := range []string{"", "a b", "a.*", "a.>"} {
		if _, err := broadcast.Open(nc, s); !errors.Is(err, broadcast.ErrSubject) {
			t.Errorf("Open(%q) = %v, want ErrSubject", s, err)
		}
	}
}
