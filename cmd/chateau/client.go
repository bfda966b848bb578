package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/gorilla/websocket"
)

// Limits of the terminal client.
const (
	// clientDialTimeout bounds the connection and the WebSocket handshake.
	clientDialTimeout = 10 * time.Second
	// maxRequestLine is the longest line of stdin the client sends; it is
	// above the largest frame a server accepts by default (64 KiB).
	maxRequestLine = 1 << 20
	// defaultClientRate is -rate's default, in lines a second: just under
	// serve's default -rate-limit of 20, so that a long script gets no 429.
	defaultClientRate = 18
	// minClientRate is the slowest -rate but 0: slower is no use, and a
	// tiny rate would overflow the interval's Duration.
	minClientRate = 0.001
)

// ClientCommand is a terminal client for scripts and debugging: JSON
// requests from stdin, one per line; every frame the server sends on
// stdout, one per line.
type ClientCommand struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
}

// Run connects, sends each stdin line as a text frame, at most -rate a
// second, and prints what comes back. At the end of stdin it waits until
// the server has been quiet for -wait, then closes the connection.
func (c *ClientCommand) Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("client", flag.ContinueOnError)
	url := fs.String("url", "ws://localhost:8888/ws", "the server's WebSocket endpoint")
	wait := fs.Duration("wait", 500*time.Millisecond, "after the end of stdin, how long the server must be quiet before the client closes")
	rate := fs.Float64("rate", defaultClientRate, "lines sent per second at most (under serve's default -rate-limit of 20); 0 sends them as fast as they come")
	if err := parseFlags(fs, args, c.Stdout); err != nil {
		return err
	}
	if !(*rate == 0 || *rate >= minClientRate) { // NaN compares false
		return usagef("client: -rate must be 0 (no pacing) or at least %v lines per second", minClientRate)
	}
	var interval time.Duration
	if *rate > 0 {
		interval = time.Duration(float64(time.Second) / *rate)
	}
	dialCtx, cancel := context.WithTimeout(ctx, clientDialTimeout)
	defer cancel()
	ws, _, err := websocket.DefaultDialer.DialContext(dialCtx, *url, nil)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", *url, err)
	}
	defer ws.Close()
	return c.converse(ctx, ws, interval, *wait)
}

// converse sends stdin's lines to ws, one every interval at most (0: as
// they come), and prints ws's frames, until the server has been quiet for
// wait after the end of stdin, or closes the connection, or ctx ends.
func (c *ClientCommand) converse(ctx context.Context, ws *websocket.Conn, interval, wait time.Duration) error {
	done := make(chan struct{})
	defer close(done)
	frames, readErr := readWebSocket(ws, done)
	lines, stdinErr := readLines(c.Stdin, done)
	in := lines                // nil while the pacing holds the next line back
	var paced <-chan time.Time // fires when the next line may go
	var quiet <-chan time.Time // set once stdin has ended
	for {
		select {
		case line, ok := <-in:
			if !ok {
				if err := <-stdinErr; err != nil {
					return fmt.Errorf("read stdin: %w", err)
				}
				lines, in, quiet = nil, nil, time.After(wait)
				continue
			}
			if len(line) == 0 {
				continue
			}
			// As it is, JSON or not: what the server says to a bad
			// frame is worth seeing.
			if err := ws.WriteMessage(websocket.TextMessage, line); err != nil {
				return fmt.Errorf("send: %w", err)
			}
			if interval > 0 {
				in, paced = nil, time.After(interval)
			}
		case <-paced:
			in, paced = lines, nil
		case b := <-frames:
			fmt.Fprintf(c.Stdout, "%s\n", b)
			if lines == nil {
				quiet = time.After(wait)
			}
		case err := <-readErr:
			var ce *websocket.CloseError
			if errors.As(err, &ce) && (ce.Code == websocket.CloseNormalClosure || ce.Code == websocket.CloseGoingAway) {
				return nil
			}
			return fmt.Errorf("connection: %w", err)
		case <-quiet:
			msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")
			_ = ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second))
			return nil
		case <-ctx.Done():
			return nil
		}
	}
}

// readWebSocket reads ws's messages into the first channel until done is
// closed or reading fails, which it reports on the second.
func readWebSocket(ws *websocket.Conn, done <-chan struct{}) (<-chan []byte, <-chan error) {
	frames := make(chan []byte)
	readErr := make(chan error, 1)
	go func() {
		for {
			_, b, err := ws.ReadMessage()
			if err != nil {
				readErr <- err
				return
			}
			select {
			case frames <- b:
			case <-done:
				return
			}
		}
	}()
	return frames, readErr
}

// readLines reads r's lines (up to maxRequestLine each) into the first
// channel, which it closes at the end of r, after a read error (a longer
// line included) or when done is closed; the second then holds the error,
// or nil.
func readLines(r io.Reader, done <-chan struct{}) (<-chan []byte, <-chan error) {
	lines, readErr := make(chan []byte), make(chan error, 1)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), maxRequestLine)
		for sc.Scan() {
			select {
			case lines <- append([]byte(nil), sc.Bytes()...):
			case <-done:
				readErr <- nil
				return
			}
		}
		readErr <- sc.Err()
	}()
	return lines, readErr
}
