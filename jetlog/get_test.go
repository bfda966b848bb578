package jetlog

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/chateau/chateau/internal/natstest"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// TestLog_leaderGet asks the leader for a message, as Get does when the
// replica that answered a direct get had not applied it yet.
func TestLog_leaderGet(t *testing.T) {
	nc, err := nats.Connect(natstest.Start(t).URL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	l, err := Open(ctx, nc, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, err := l.Append([]byte("one"), []byte("two")); err != nil {
		t.Fatal(err)
	}
	if data, err := l.leaderGet(ctx, 2); err != nil || string(data) != "two" {
		t.Errorf("leaderGet(2) = %q, %v; want \"two\"", data, err)
	}
	var apiErr *jetstream.APIError
	if _, err := l.leaderGet(ctx, 3); !errors.As(err, &apiErr) || apiErr.ErrorCode != jetstream.JSErrCodeMessageNotFound {
		t.Errorf("leaderGet(3) = %v, want the API's message not found", err)
	}
}
