package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// timedWriter records when each line written to it arrived.
type timedWriter struct {
	lines []string
	at    []time.Time
}

func (w *timedWriter) Write(p []byte) (int, error) {
	for _, line := range strings.Split(strings.TrimSuffix(string(p), "\n"), "\n") {
		w.lines = append(w.lines, line)
		w.at = append(w.at, time.Now())
	}
	return len(p), nil
}

// TestClient_Rate: with -rate R, the Nth answer cannot come before the
// Nth line was sent, at least (N-1)/R after the first. Only that lower
// bound is asserted: a loaded machine may make it take longer.
func TestClient_Rate(t *testing.T) {
	p := startServe(t, filepath.Join(t.TempDir(), "chateau.db"))
	const n, rate = 6, 10.0
	input := `{"type":"RegisterRequest","username":"ann"}` + "\n" + strings.Repeat(`{"type":"ClientListRequest"}`+"\n", n-1)
	out := &timedWriter{}
	c := &ClientCommand{Stdin: strings.NewReader(input), Stdout: out, Stderr: out}
	ctx, cancel := context.WithTimeout(context.Background(), e2eWait)
	defer cancel()
	start := time.Now()
	if err := c.Run(ctx, []string{"-url", "ws://" + p.addr + "/ws", "-rate", fmt.Sprint(rate), "-wait", "200ms"}); err != nil {
		t.Fatal(err)
	}
	if len(out.lines) != n || strings.Contains(strings.Join(out.lines, "\n"), `"status":429`) {
		t.Fatalf("client printed %d lines, want %d answers, none 429:\n%s", len(out.lines), n, strings.Join(out.lines, "\n"))
	}
	least := time.Duration(float64(n-1) / rate * float64(time.Second))
	if took := out.at[n-1].Sub(start); took < least {
		t.Errorf("%d lines at -rate %v were all answered after %v, want at least %v", n, rate, took, least)
	}
}

func TestClient_BadRate(t *testing.T) {
	for _, rate := range []string{"-1", "NaN", "0.0001", "fast"} {
		err := (&ClientCommand{Stdin: strings.NewReader(""), Stdout: &timedWriter{}}).Run(context.Background(), []string{"-rate", rate})
		if !errors.As(err, new(*usageError)) {
			t.Errorf("-rate %s: %v, want a usage error", rate, err)
		}
	}
}

// TestClient_LineTooLong: a line of stdin over maxRequestLine is an error,
// not a silent end of the input.
func TestClient_LineTooLong(t *testing.T) {
	p := startServe(t, filepath.Join(t.TempDir(), "chateau.db"))
	input := `{"type":"RegisterRequest","username":"ann"}` + "\n" + strings.Repeat("x", maxRequestLine+1) + "\n"
	out := &timedWriter{}
	c := &ClientCommand{Stdin: strings.NewReader(input), Stdout: out, Stderr: out}
	ctx, cancel := context.WithTimeout(context.Background(), e2eWait)
	defer cancel()
	err := c.Run(ctx, []string{"-url", "ws://" + p.addr + "/ws", "-rate", "0", "-wait", "200ms"})
	if err == nil || !strings.Contains(err.Error(), "too long") {
		t.Fatalf("client with a line of %d bytes: %v, want an error saying it is too long", maxRequestLine+1, err)
	}
}
