package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/chateau/chateau/eventlog"
	"github.com/chateau/chateau/projection"
	"github.com/oklog/ulid/v2"
)

// DumpCommand prints the event log.
type DumpCommand struct {
	Stdout, Stderr io.Writer
}

// errStopScan ends a scan early once --limit events were printed.
var errStopScan = errors.New("limit reached")

// Run parses args and prints the matching events in log order, one per line.
func (c *DumpCommand) Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("events dump", flag.ContinueOnError)
	data := fs.String("data", "chateau.db", "data file")
	typ := fs.String("type", "", "only events of this type ("+strings.Join(projection.Types(), ", ")+")")
	chat := fs.String("chat", "", "only the chat's creation and its messages")
	user := fs.String("user", "", "only events by or addressed to this user")
	sinceText := fs.String("since", "", "only events after this id (a ULID)")
	limit := fs.Int("limit", 0, "print at most this many events (0: all)")
	format := fs.String("format", "json", "json (one object per line) or text")
	if err := parseFlags(fs, args, c.Stdout); err != nil {
		return err
	}
	var since ulid.ULID
	if *sinceText != "" {
		var err error
		if since, err = ulid.ParseStrict(*sinceText); err != nil {
			return usagef("events dump: -since %q is not a ULID: %v", *sinceText, err)
		}
	}
	switch {
	case *typ != "" && !slices.Contains(projection.Types(), *typ):
		return usagef("events dump: -type %q is not one of %s", *typ, strings.Join(projection.Types(), ", "))
	case *limit < 0:
		return usagef("events dump: -limit must not be negative")
	case *format != "json" && *format != "text":
		return usagef("events dump: -format must be json or text")
	}

	l, _, err := eventlog.Open(*data, eventlog.Options{ReadOnly: true})
	if err != nil {
		return explainOpen(err)
	}
	defer l.Close()

	out := bufio.NewWriter(c.Stdout)
	// Membership is needed to know which group messages address --user;
	// it is read from the chats' creation, which precede their messages.
	members := make(map[string][]string)
	printed := 0
	// Without --user nothing before --since matters, so the scan starts there.
	from := since
	if *user != "" {
		from = ulid.ULID{}
	}
	err = l.Scan(from, func(rec eventlog.Record) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		e, err := projection.Decode(rec.ID, rec.Data)
		if err != nil {
			return err
		}
		if p, ok := e.Payload.(projection.ChatCreated); ok && *user != "" {
			members[p.Chat] = p.Members
		}
		switch {
		case e.ID.Compare(since) <= 0,
			*typ != "" && e.Payload.Type() != *typ,
			*chat != "" && e.ChatName() != *chat,
			*user != "" && !e.Involves(*user) && !slices.Contains(members[e.ChatName()], *user):
			return nil
		}
		if *format == "text" {
			fmt.Fprintln(out, e.Text())
		} else {
			b, err := e.MarshalJSON()
			if err != nil {
				return err
			}
			out.Write(b)
			out.WriteByte('\n')
		}
		printed++
		if *limit > 0 && printed >= *limit {
			return errStopScan
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStopScan) {
		return fmt.Errorf("%s: %w", *data, err)
	}
	return out.Flush()
}
