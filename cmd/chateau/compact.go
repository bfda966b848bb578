package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"

	"github.com/chateau/chateau/eventlog"
)

// CompactCommand rewrites a data file with bbolt's compaction, in place or
// into a new file: the copy holds the log's records and schema version and
// none of the old bytes that bbolt keeps in pages freed by earlier writes
// (values overwritten or deleted). No server may run on the file.
type CompactCommand struct {
	Stdout, Stderr io.Writer
}

// Run parses args, compacts -data and prints its size before and after.
func (c *CompactCommand) Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("compact", flag.ContinueOnError)
	data := fs.String("data", "chateau.db", "data file to compact; no server may be running on it")
	out := fs.String("out", "", "write the compacted copy to this file and leave -data as it is (must not exist, unless -force); without it, -data is replaced")
	force := fs.Bool("force", false, "replace -out if it exists (atomically: it stays whole until the copy is)")
	if err := parseFlags(fs, args, c.Stdout); err != nil {
		return err
	}
	// Read-only, as events dump reads a file: a server running on it
	// holds a lock that refuses this one, and this one keeps a server
	// from starting on it until the compaction is done.
	l, _, err := eventlog.Open(*data, eventlog.Options{ReadOnly: true})
	if err != nil {
		return explainOpen(err)
	}
	defer l.Close()
	before, err := os.Stat(*data)
	if err != nil {
		return err
	}
	dest, what := *out, "compacted "+*data+" into "+*out
	if *out == "" {
		dest, what = *data, "compacted "+*data
		err = compactInPlace(ctx, l, *data, before)
	} else {
		err = compactInto(ctx, l, *data, before, *out, *force)
	}
	if err != nil {
		return err
	}
	after, err := os.Stat(dest)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.Stdout, "%s: %d bytes before, %d after\n", what, before.Size(), after.Size())
	return nil
}

// compactInPlace replaces the data file at data (the file a symbolic link
// there points to: the link stays) with a compacted copy of l, which has it
// open. The copy is made in a temporary directory beside the file, synced
// and read back (CompactTo), given the file's mode and owner, and renamed
// over it; the directory is synced after. Until the rename the data file
// is untouched: Ctrl-C, an error, or a file put in its place meanwhile
// leaves it, or that file, as it is.
func compactInPlace(ctx context.Context, l *eventlog.Log, data string, info os.FileInfo) error {
	target, err := filepath.EvalSymlinks(data)
	if err != nil {
		return err
	}
	err = writeOut(target, true, func(tmp string) error {
		if err := l.CompactTo(tmp); err != nil {
			return err
		}
		if err := keepOwnerAndMode(tmp, data, info); err != nil {
			return err
		}
		if ctx.Err() != nil {
			return fmt.Errorf("interrupted: %s is unchanged", data)
		}
		// Not the file compacted: renaming over it would lose it.
		return l.CheckPath()
	})
	if err != nil {
		return err
	}
	return syncDir(filepath.Dir(target), data)
}

// compactInto writes a compacted copy of l, which has data open, to the new
// file out, as backup writes its copies (writeOut), and syncs out's
// directory.
func compactInto(ctx context.Context, l *eventlog.Log, data string, info os.FileInfo, out string, force bool) error {
	if outInfo, err := os.Stat(out); err == nil && os.SameFile(info, outInfo) {
		return usagef("compact: -out %s is -data; leave -out out to compact in place", out)
	}
	// writeOut's own refusal names backup.
	if _, err := os.Lstat(out); err == nil && !force {
		return fmt.Errorf("compact: %s exists; give -force to replace it", out)
	}
	err := writeOut(out, force, func(tmp string) error {
		if err := l.CompactTo(tmp); err != nil {
			return err
		}
		if ctx.Err() != nil {
			return fmt.Errorf("interrupted: %s was not written", out)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return syncDir(filepath.Dir(out), out)
}

// keepOwnerAndMode gives the compacted copy tmp the permissions and, where
// the system has them, the owner and group of the data file (info) that it
// replaces. A copy made by root of a file the server's user owns would
// otherwise be root's, and the server could not open it; a copy that
// cannot be given the owner is refused.
func keepOwnerAndMode(tmp, data string, info os.FileInfo) error {
	if err := os.Chmod(tmp, info.Mode().Perm()); err != nil {
		return err
	}
	uid, gid, ok := fileOwner(info)
	if !ok {
		return nil
	}
	now, err := os.Stat(tmp)
	if err != nil {
		return err
	}
	if nowUID, nowGID, _ := fileOwner(now); nowUID == uid && nowGID == gid {
		return nil
	}
	if err := os.Chown(tmp, uid, gid); err != nil {
		return fmt.Errorf("give the compacted copy the owner of %s (uid %d, gid %d), or the server may not open it: %w", data, uid, gid, err)
	}
	return nil
}

// fileOwner returns the owner and group of the file info describes, where
// the system has them. It reads the Uid and Gid fields of info.Sys() by
// name, since the type that has them (syscall.Stat_t) does not exist on
// every system chateau is built for.
func fileOwner(info os.FileInfo) (uid, gid int, ok bool) {
	v := reflect.ValueOf(info.Sys())
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return 0, 0, false
	}
	u, g := v.Elem().FieldByName("Uid"), v.Elem().FieldByName("Gid")
	if !u.IsValid() || !g.IsValid() || !u.CanUint() || !g.CanUint() {
		return 0, 0, false
	}
	return int(u.Uint()), int(g.Uint()), true
}

// syncDir makes the renames in dir durable, which put the new file
// named done there.
func syncDir(dir, done string) error {
	d, err := os.Open(dir)
	if err == nil {
		err = d.Sync()
		d.Close()
	}
	if err != nil {
		return fmt.Errorf("%s is compacted, but syncing its directory failed: %w", done, err)
	}
	return nil
}
