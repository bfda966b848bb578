package main

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/chateau/chateau/eventlog"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// The admin listener serves what exposes the data file or the server's
// internals, which the public listener must not: by default on a unix
// socket beside the data file that only its owner may use, or on the TCP
// address of --admin-addr, which the operator keeps private.

// adminSocketPath is the admin socket of a server on the data file data.
func adminSocketPath(data string) string { return data + ".sock" }

// maxSocketPath is the longest unix socket path every Unix takes (Linux
// takes 107 bytes, the BSDs 103).
const maxSocketPath = 103

// newAdminMux routes the admin listener: the health checks as on the
// public one, the metrics, and with a data file l the backup and the log's
// records.
func newAdminMux(reg *prometheus.Registry, ready *atomic.Pointer[serving], l *eventlog.Log, logger *slog.Logger) *http.ServeMux {
	mux := http.NewServeMux()
	handleHealth(mux, ready)
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	if l != nil {
		// A node of a cluster has no data file: `chateau backup` and
		// `events dump` read its stream from NATS.
		mux.Handle("GET /backup", backupHandler(l, logger))
		mux.Handle("GET /events", eventsHandler(l, logger))
	}
	return mux
}

// listenAdmin listens on the TCP address addr, or when addr is empty on the
// unix socket beside the data file. Call it only while holding the data
// file's lock: it replaces a socket that a dead server left there.
func listenAdmin(addr, data string) (net.Listener, error) {
	if addr != "" {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("admin listener: %w", err)
		}
		return ln, nil
	}
	ln, err := listenSocket(adminSocketPath(data))
	if err != nil {
		return nil, fmt.Errorf("admin socket: %w", err)
	}
	return ln, nil
}

// listenSocket listens on a unix socket at path that only this user may
// use (mode 0600). It binds the socket in a new directory of mode 0700
// and renames it into place once it has its mode, so that at no moment can
// anybody else connect, whatever the umask. The rename replaces a socket
// left by a dead server.
func listenSocket(path string) (net.Listener, error) {
	if err := checkSocketPath(path); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(filepath.Dir(path), ".chateau*")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	bound := filepath.Join(dir, "s")
	if len(bound) > maxSocketPath {
		return nil, fmt.Errorf("%s: the data file's path is too long for a unix socket beside it; give a shorter -data path or -admin-addr", path)
	}
	ln, err := net.Listen("unix", bound)
	if err != nil {
		return nil, err
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	var info fs.FileInfo
	if err = os.Chmod(bound, 0o600); err == nil {
		if info, err = os.Lstat(bound); err == nil {
			err = os.Rename(bound, path)
		}
	}
	if err != nil {
		ln.Close()
		return nil, err
	}
	return &socketListener{Listener: ln, path: path, info: info}, nil
}

// checkSocketPath accepts a path with nothing at it or a socket that a dead
// server left. It refuses a file that is not a socket, and a socket where
// something answers: a server that still runs although its data file is
// gone from the path (else this one would not hold the file's lock), and
// whose events are only in that file.
func checkSocketPath(path string) error {
	info, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if info.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("%s exists and is not a socket: move it away, or give -admin-addr", path)
	}
	return refuseAnswering(path)
}

// refuseAnswering returns an error if a server answers on the socket at
// path: one whose data file was deleted or replaced (else the caller could
// not hold its lock, or would not find it missing) and whose events are
// only in that file, until it is rescued.
func refuseAnswering(path string) error {
	conn, err := net.DialTimeout("unix", path, time.Second)
	if err == nil {
		conn.Close()
		return fmt.Errorf("a server answers on %s, but its data file is gone from its path: save its events with `chateau backup` and stop it first", path)
	}
	if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, fs.ErrNotExist) {
		return nil // a dead server's socket, or none
	}
	return err
}

// refuseOrphanedPath refuses to create a data file where the file of a
// running server was deleted, as found by its admin socket (with
// -admin-addr there is none to ask): the new empty log would take the
// place of that server's events.
func refuseOrphanedPath(adminAddr, data string) error {
	if _, err := os.Lstat(data); adminAddr != "" || !errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return refuseAnswering(adminSocketPath(data))
}

// socketListener is the admin socket: it says its path as its address and
// removes the socket when closed, unless another has taken the path.
type socketListener struct {
	net.Listener
	path string
	info fs.FileInfo
}

func (s *socketListener) Addr() net.Addr { return &net.UnixAddr{Name: s.path, Net: "unix"} }

func (s *socketListener) Close() error {
	err := s.Listener.Close()
	if now, statErr := os.Lstat(s.path); statErr == nil && os.SameFile(now, s.info) {
		if rmErr := os.Remove(s.path); err == nil {
			err = rmErr
		}
	}
	return err
}
