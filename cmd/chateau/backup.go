package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/chateau/chateau/eventlog"
)

// backupTimeout bounds a whole backup through a server's admin listener,
// so that a server that stopped answering cannot hold the command forever;
// the copy runs at the speed of the local disks, so a file of many
// gigabytes fits in it.
const backupTimeout = 10 * time.Minute

// maxErrorBody is how much of a refused backup's response body the error
// quotes: enough for the server's one-line reason, and no flood of
// whatever else may answer at that address.
const maxErrorBody = 512

// BackupCommand copies a data file consistently, through the admin
// listener of the server running on it when there is one (bbolt locks the
// file), else straight from it; or, with -nats, copies a stream's log into
// a new data file.
type BackupCommand struct {
	Stdout, Stderr io.Writer
}

// Run parses args and writes the copy to --out.
func (c *BackupCommand) Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("backup", flag.ContinueOnError)
	out := fs.String("out", "", "file to write the copy to (required; must not exist, unless -force)")
	force := fs.Bool("force", false, "replace -out if it exists (atomically: it stays whole until the copy is)")
	data := fs.String("data", "chateau.db", "data file; a server running on it is reached on its admin socket, -data plus .sock")
	adminAddr := fs.String("admin-addr", "", "TCP address of the server's admin listener, if it was started with -admin-addr")
	var stream streamFlags
	stream.register(fs, "copy the log of the stream -stream into a new data file, instead of -data")
	if err := parseFlags(fs, args, c.Stdout); err != nil {
		return err
	}
	if *out == "" {
		return usagef("backup: -out is required")
	}
	if stream.set() {
		return copyStreamOut(ctx, stream, *out, *force, c.Stdout, c.Stderr)
	}
	var n int64
	var via string
	err := writeOut(*out, *force, func(path string) error {
		var err error
		n, via, err = c.copy(ctx, path, *adminAddr, *data)
		return err
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(c.Stdout, "wrote %d bytes to %s (%s)\n", n, *out, via)
	return nil
}

// writeOut makes the file out with write, which creates it at the path it
// is given, in a new temporary directory beside out: a failed copy never
// leaves a half-written file under the name. Once write has returned, the
// file takes the name out (place) and the directory is removed. An
// existing out is refused without force before write runs, so that a typo
// costs no wait for a copy of a large log; place checks again.
func writeOut(out string, force bool, write func(path string) error) error {
	if _, err := os.Lstat(out); err == nil && !force {
		return outExists(out)
	}
	dir, err := os.MkdirTemp(filepath.Dir(out), filepath.Base(out)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	tmp := filepath.Join(dir, filepath.Base(out))
	if err := write(tmp); err != nil {
		return err
	}
	return place(tmp, out, force)
}

// outExists is the error for an -out that names an existing file.
func outExists(out string) error {
	return fmt.Errorf("backup: %s exists; give -force to replace it", out)
}

// place gives the finished copy tmp the name out. With force it renames,
// replacing what is there. Without, it links, which fails rather than
// replace a file that appeared at out during the copy; where the file
// system has no hard links, it checks and renames.
func place(tmp, out string, force bool) error {
	if force {
		return os.Rename(tmp, out)
	}
	err := os.Link(tmp, out)
	if errors.Is(err, fs.ErrExist) {
		return outExists(out)
	}
	if err == nil {
		return nil
	}
	if _, statErr := os.Lstat(out); statErr == nil {
		return outExists(out)
	}
	return os.Rename(tmp, out)
}

// copy writes the copy to the new file path, synced: it asks the
// server's admin listener for it; only if no server listens there does it
// read the file itself.
func (c *BackupCommand) copy(ctx context.Context, path, adminAddr, data string) (int64, string, error) {
	ctx, cancel := context.WithTimeout(ctx, backupTimeout)
	defer cancel()
	client, url, where := adminClient(adminAddr, data)
	n, err := fetchBackupTo(ctx, client, url+"/backup", path, where)
	if err == nil {
		return n, "through the server at " + where, nil
	}
	// Nothing listens: no socket, a socket left by a dead server, a closed
	// port.
	if !errors.Is(err, os.ErrNotExist) && !errors.Is(err, syscall.ECONNREFUSED) {
		return 0, "", err
	}
	l, _, err := eventlog.Open(data, eventlog.Options{ReadOnly: true})
	if errors.Is(err, eventlog.ErrLocked) {
		return 0, "", fmt.Errorf("%w, by a server that does not listen at %s: give backup the server's -admin-addr, or none if it has none", err, where)
	}
	if err != nil {
		return 0, "", explainOpen(err)
	}
	defer l.Close()
	n, err = l.BackupTo(path)
	return n, "from " + data + ", no server at " + where, err
}

// fetchBackupTo is fetchBackup into the new file path, synced. A server
// that does not answer leaves no file.
func fetchBackupTo(ctx context.Context, client *http.Client, url, path, where string) (int64, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return 0, err
	}
	n, err := fetchBackup(ctx, client, url, f, where)
	if err == nil {
		err = f.Sync()
	}
	if closeErr := f.Close(); err == nil {
		err = closeErr
	}
	if err != nil {
		os.Remove(path)
	}
	return n, err
}

// adminClient returns an HTTP client and the base URL for the admin
// listener at the TCP address addr, or when addr is empty on the unix
// socket beside data, and says where that is.
func adminClient(addr, data string) (client *http.Client, url, where string) {
	if addr != "" {
		return &http.Client{}, "http://" + addr, addr
	}
	socket := adminSocketPath(data)
	dial := func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", socket)
	}
	// The URL's host only names the server in the request: the dialer
	// goes to the socket.
	return &http.Client{Transport: &http.Transport{DialContext: dial}}, "http://chateau-admin", socket
}

// fetchBackup copies the backup at url, from the admin listener at where,
// to w.
func fetchBackup(ctx context.Context, client *http.Client, url string, w io.Writer, where string) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, usagef("backup: -admin-addr %q: %v", where, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("server at %s: %w", where, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		return 0, fmt.Errorf("server at %s: %s: %s", where, resp.Status, msg)
	}
	n, err := io.Copy(w, resp.Body)
	if err == nil && resp.ContentLength >= 0 && n != resp.ContentLength {
		err = fmt.Errorf("server at %s sent %d of %d bytes", where, n, resp.ContentLength)
	}
	return n, err
}

// backupHandler serves GET /backup: a consistent copy of the data file.
// It holds every password hash, so it is routed on the admin listener
// only, whose access the socket's mode or the operator's choice of
// address controls.
//
// The copy is written to a temporary file beside the data file first, in
// one read transaction at the disk's speed, and then sent: a read
// transaction held while a slow client downloads would block every commit
// that must grow the file (bbolt cannot remap it meanwhile), and the
// server's shutdown with it.
func backupHandler(l *eventlog.Log, logger *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		staged, size, err := stageBackup(l)
		if err != nil {
			logger.Error("backup failed", "err", err)
			http.Error(w, "backup failed: "+err.Error(), http.StatusInternalServerError)
			return
		}
		defer os.Remove(staged.Name())
		defer staged.Close()
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
		n, err := io.Copy(w, staged)
		if err != nil {
			logger.Error("backup failed", "bytes", n, "err", err)
			return
		}
		logger.Info("backup served", "bytes", n)
	})
}

// stagedPrefix starts the names of the copies stageBackup puts beside the
// data file at path.
func stagedPrefix(path string) string {
	return "." + filepath.Base(path) + ".backup-"
}

// stageBackup copies l into a new temporary file beside it (a compacted
// copy: eventlog.BackupTo), opened for reading; the caller closes and
// removes it.
func stageBackup(l *eventlog.Log) (*os.File, int64, error) {
	f, err := os.CreateTemp(filepath.Dir(l.Path()), stagedPrefix(l.Path())+"*")
	if err != nil {
		return nil, 0, err
	}
	// A name of its own for BackupTo, which makes the file.
	name := f.Name()
	f.Close()
	os.Remove(name)
	size, err := l.BackupTo(name)
	if err == nil {
		f, err = os.Open(name)
	}
	if err != nil {
		os.Remove(name)
		return nil, 0, err
	}
	return f, size, nil
}

// removeStagedBackups removes the copies that a server which died while
// sending a backup left beside the data file. Call it only while holding
// the data file's lock: then no running server is sending them.
func removeStagedBackups(path string, logger *slog.Logger) {
	dir := filepath.Dir(path)
	entries, _ := os.ReadDir(dir) // unreadable: nothing to tidy that can be seen
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), stagedPrefix(path)) || !e.Type().IsRegular() {
			continue
		}
		name := filepath.Join(dir, e.Name())
		if err := os.Remove(name); err != nil {
			logger.Warn("remove a stale backup copy", "file", name, "err", err)
			continue
		}
		logger.Info("removed a stale backup copy", "file", name)
	}
}
