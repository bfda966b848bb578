package main

import (
	"bufio"
	"context"
	"encoding/json"
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
)

// ClientCommand is a terminal client for scripts and debugging: JSON
// requests from stdin, one per line; every frame the server sends on
// stdout, one per line.
type ClientCommand struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
}

// Run connects, sends each stdin line as a text frame and prints what
// comes back. At the end of stdin it waits until the server has been
// quiet for -wait, then closes the connection.
func (c *ClientCommand) Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("client", flag.ContinueOnError)
	url := fs.String("url", "ws://localhost:8888/ws", "the server's WebSocket endpoint")
	wait := fs.Duration("wait", 500*time.Millisecond, "after the end of stdin, how long the server must be quiet before the client closes")
	if err := parseFlags(fs, args, c.Stdout); err != nil {
		return err
	}
	dialCtx, cancel := context.WithTimeout(ctx, clientDialTimeout)
	defer cancel()
	ws, _, err := websocket.DefaultDialer.DialContext(dialCtx, *url, nil)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", *url, err)
	}
	defer ws.Close()

	done := make(chan struct{})
	defer close(done)
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
	lines := make(chan []byte)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(c.Stdin)
		sc.Buffer(make([]byte, 64<<10), maxRequestLine)
		for sc.Scan() {
			select {
			case lines <- append([]byte(nil), sc.Bytes()...):
			case <-done:
				return
			}
		}
	}()

	var quiet <-chan time.Time // set once stdin has ended
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				lines, quiet = nil, time.After(*wait)
				continue
			}
			if len(line) == 0 {
				continue
			}
			if !json.Valid(line) {
				fmt.Fprintf(c.Stderr, "chateau client: not JSON, not sent: %s\n", line)
				continue
			}
			if err := ws.WriteMessage(websocket.TextMessage, line); err != nil {
				return fmt.Errorf("send: %w", err)
			}
		case b := <-frames:
			fmt.Fprintf(c.Stdout, "%s\n", b)
			if lines == nil {
				quiet = time.After(*wait)
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
