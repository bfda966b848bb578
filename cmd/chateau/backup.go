package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/chateau/chateau/eventlog"
)

// BackupCommand copies a data file consistently, through the running
// server when there is one (bbolt locks the file), else straight from it.
type BackupCommand struct {
	Stdout, Stderr io.Writer
}

// Run parses args and writes the copy to --out.
func (c *BackupCommand) Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("backup", flag.ContinueOnError)
	out := fs.String("out", "", "file to write the copy to (required; replaced atomically)")
	data := fs.String("data", "chateau.db", "data file, read when no server runs at -addr")
	addr := fs.String("addr", "localhost:8888", "address of a running server to copy through")
	if err := parseFlags(fs, args, c.Stdout); err != nil {
		return err
	}
	if *out == "" {
		return usagef("backup: -out is required")
	}
	// Write next to the target and rename, so that a failed copy never
	// leaves a half-written file under the name.
	tmp, err := os.CreateTemp(filepath.Dir(*out), filepath.Base(*out)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()

	n, via, err := c.copy(ctx, tmp, *addr, *data)
	if err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), *out); err != nil {
		return err
	}
	fmt.Fprintf(c.Stdout, "wrote %d bytes to %s (%s)\n", n, *out, via)
	return nil
}

// copy asks the server at addr for the copy; only if nothing listens there
// does it read the file itself.
func (c *BackupCommand) copy(ctx context.Context, w io.Writer, addr, data string) (int64, string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/backup", nil)
	if err != nil {
		return 0, "", usagef("backup: -addr %q: %v", addr, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err == nil {
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
			return 0, "", fmt.Errorf("server at %s: %s: %s", addr, resp.Status, msg)
		}
		n, err := io.Copy(w, resp.Body)
		if err == nil && resp.ContentLength >= 0 && n != resp.ContentLength {
			err = fmt.Errorf("server at %s sent %d of %d bytes", addr, n, resp.ContentLength)
		}
		return n, "through the server at " + addr, err
	}
	var opErr *net.OpError
	if !errors.As(err, &opErr) || !errors.Is(err, syscall.ECONNREFUSED) {
		return 0, "", fmt.Errorf("server at %s: %w", addr, err)
	}
	l, _, err := eventlog.Open(data, eventlog.Options{ReadOnly: true})
	if err != nil {
		return 0, "", explainOpen(err)
	}
	defer l.Close()
	n, err := l.Backup(w, nil)
	return n, "from " + data + ", no server at " + addr, err
}

// backupHandler serves GET /backup: a consistent copy of the data file. It
// holds every password hash, so it answers only requests from this machine.
func backupHandler(l *eventlog.Log, logger *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
			http.Error(w, "backups are served to this machine only", http.StatusForbidden)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		n, err := l.Backup(w, func(size int64) {
			w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
		})
		if err != nil {
			logger.Error("backup failed", "remote", r.RemoteAddr, "bytes", n, "err", err)
			return
		}
		logger.Info("backup served", "remote", r.RemoteAddr, "bytes", n)
	})
}
