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

// DumpCommand prints the event log: from the data file, through the
// admin listener of the server that holds it, or from a JetStream stream.
type DumpCommand struct {
	Stdout, Stderr io.Writer
}

// errStopScan ends a scan early once --limit events were printed.
var errStopScan = errors.New("limit reached")

// dumpOptions are the flags of `events dump`.
type dumpOptions struct {
	data, adminAddr string
	nats            streamFlags
	typ, chat, user string
	since           ulid.ULID
	limit           int
	format          string
	follow          bool
}

// Run parses args and prints the matching events in log order, one per
// line; with --follow then each new one as it is committed, until ctx ends.
func (c *DumpCommand) Run(ctx context.Context, args []string) error {
	opt, err := parseDumpFlags(args, c.Stdout)
	if err != nil {
		return err
	}
	var src recordSource
	if opt.nats.set() {
		src, err = openStreamRecords(ctx, opt.nats, c.Stderr)
	} else {
		src, err = openRecords(ctx, opt.data, opt.adminAddr, opt.follow)
	}
	if err != nil {
		return err
	}
	defer src.Close()
	d := &dumper{dumpOptions: opt, src: src, out: bufio.NewWriter(c.Stdout), members: make(map[string][]string),
		messages: make(map[ulid.ULID]dumpedMessage)}
	err = d.run(ctx)
	if errors.Is(err, errServerStopped) {
		fmt.Fprintf(c.Stderr, "chateau: events dump: the %s stopped; every event it stored is printed\n", src)
		return nil
	}
	return err
}

func parseDumpFlags(args []string, stdout io.Writer) (dumpOptions, error) {
	var opt dumpOptions
	fs := flag.NewFlagSet("events dump", flag.ContinueOnError)
	fs.StringVar(&opt.data, "data", "chateau.db", "data file; a server running on it is read through its admin socket, -data plus .sock")
	fs.StringVar(&opt.adminAddr, "admin-addr", "", "TCP address of the server's admin listener, if it was started with -admin-addr")
	opt.nats.register(fs, "read the log from the stream -stream instead of -data")
	fs.StringVar(&opt.typ, "type", "", "only events of this type ("+strings.Join(projection.Types(), ", ")+")")
	fs.StringVar(&opt.chat, "chat", "", "only the chat's creation and its messages")
	fs.StringVar(&opt.user, "user", "", "only events by or addressed to this user")
	sinceText := fs.String("since", "", "only events after this id (a ULID)")
	fs.IntVar(&opt.limit, "limit", 0, "print at most this many events (0: all)")
	fs.StringVar(&opt.format, "format", "json", "json (one object per line) or text")
	fs.BoolVar(&opt.follow, "follow", false, "after the history, print each new event as it is committed, until interrupted (needs a running server, or -nats)")
	if err := parseFlags(fs, args, stdout); err != nil {
		return opt, err
	}
	if *sinceText != "" {
		var err error
		if opt.since, err = ulid.ParseStrict(*sinceText); err != nil {
			return opt, usagef("events dump: -since %q is not a ULID: %v", *sinceText, err)
		}
	}
	switch {
	case opt.typ != "" && !slices.Contains(projection.Types(), opt.typ):
		return opt, usagef("events dump: -type %q is not one of %s", opt.typ, strings.Join(projection.Types(), ", "))
	case opt.limit < 0:
		return opt, usagef("events dump: -limit must not be negative")
	case opt.format != "json" && opt.format != "text":
		return opt, usagef("events dump: -format must be json or text")
	}
	return opt, nil
}

// dumpedMessage is where a message read by a --chat or --user dump is.
type dumpedMessage struct {
	chat     string
	involved bool // with --user
}

// dumper filters and prints the records of a source, whichever it is.
type dumper struct {
	dumpOptions
	src recordSource
	out *bufio.Writer
	// Membership is needed to know which group messages address --user;
	// it is read from the chats' creation and changes of members, which
	// precede their messages. Where each message is, to know what an edit
	// or a deletion is about.
	members  map[string][]string
	messages map[ulid.ULID]dumpedMessage
	printed  int
	chatSeen bool // an event of --chat was read
	userSeen bool // --user's registration was read
	checked  bool // the names were checked, at the end of the history
}

// run prints what matches. With --follow, ctx's end (Ctrl-C) is the
// normal end.
func (d *dumper) run(ctx context.Context) error {
	// Without --user nothing before --since matters, so the scan starts there.
	from := d.since
	if d.user != "" {
		from = ulid.ULID{}
	}
	var own error // an error of the dumper's, not of the source
	err := d.src.scan(ctx, from, d.follow,
		func(rec eventlog.Record) error { own = d.record(ctx, rec); return own },
		func() error { own = d.caughtUp(ctx); return own })
	switch {
	case err == nil, errors.Is(err, errStopScan), d.follow && ctx.Err() != nil:
		err = nil
	case errors.Is(err, errServerStopped):
	case own == nil:
		err = fmt.Errorf("%s: %w", d.src, err)
	}
	if flushErr := d.out.Flush(); err == nil {
		err = flushErr
	}
	return err
}

// record prints rec if it matches; errStopScan once --limit are printed.
func (d *dumper) record(ctx context.Context, rec eventlog.Record) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	e, err := projection.Decode(rec.ID, rec.Data)
	if err != nil {
		return fmt.Errorf("%s: %w", d.src, err)
	}
	chat, involved := d.track(e)
	if p, ok := e.Payload.(projection.UserRegistered); ok && p.Username == d.user {
		d.userSeen = true
	}
	if d.chat != "" && chat == d.chat {
		d.chatSeen = true
	}
	switch {
	case e.ID.Compare(d.since) <= 0,
		d.typ != "" && e.Payload.Type() != d.typ,
		d.chat != "" && chat != d.chat,
		d.user != "" && !involved:
		return nil
	}
	if err := d.print(e); err != nil {
		return err
	}
	d.printed++
	if d.limit > 0 && d.printed >= d.limit {
		return errStopScan
	}
	return nil
}

// track keeps what --chat and --user need of the log so far (members
// as they change, and where each message is) and returns the chat e
// belongs to, if any, and whether it involves --user: caused by them,
// addressed to them, in a chat they are a member of at the time, or an
// edit or a deletion of a message that involved them.
func (d *dumper) track(e projection.Event) (chat string, involved bool) {
	if d.chat == "" && d.user == "" {
		return e.ChatName(), false
	}
	chat = e.ChatName()
	switch p := e.Payload.(type) {
	case projection.ChatCreated:
		d.members[p.Chat] = p.Members
	case projection.ChatMembersAdded:
		d.members[p.Chat] = append(slices.Clone(d.members[p.Chat]), p.Added...)
	case projection.MessageEdited:
		chat, involved = d.messages[p.Message].chat, d.messages[p.Message].involved
	case projection.MessageDeleted:
		chat, involved = d.messages[p.Message].chat, d.messages[p.Message].involved
	}
	involved = involved || d.user != "" && (e.Involves(d.user) || slices.Contains(d.members[chat], d.user))
	if p, ok := e.Payload.(projection.ChatMemberLeft); ok {
		d.members[p.Chat] = slices.DeleteFunc(slices.Clone(d.members[p.Chat]), func(m string) bool { return m == e.Actor })
	}
	switch e.Payload.(type) {
	case projection.ChatCreated, projection.GroupMessagePosted, projection.DirectMessageSent:
		d.messages[e.ID] = dumpedMessage{chat: chat, involved: involved}
	}
	return chat, involved
}

// print writes e as a line of JSON or text. Neither shows a password hash.
func (d *dumper) print(e projection.Event) error {
	if d.format == "text" {
		_, err := fmt.Fprintln(d.out, e.Text())
		return err
	}
	b, err := e.MarshalJSON()
	if err != nil {
		return err
	}
	d.out.Write(b)
	return d.out.WriteByte('\n')
}

// caughtUp runs whenever every event committed so far was read: the first
// time, at the end of the history, it checks that --chat and --user name
// something; each time it flushes what was printed.
func (d *dumper) caughtUp(ctx context.Context) error {
	if !d.checked {
		d.checked = true
		if err := d.checkNames(ctx); err != nil {
			return err
		}
	}
	return d.out.Flush()
}

// checkNames returns an error if no user --user registered or no chat
// --chat was created. A chat's events before --since were not read: then
// it looks for the chat's creation there.
func (d *dumper) checkNames(ctx context.Context) error {
	if d.user != "" && !d.userSeen {
		return fmt.Errorf("events dump: no user %q in the log", d.user)
	}
	if d.chat == "" || d.chatSeen {
		return nil
	}
	if d.user == "" && d.since != (ulid.ULID{}) {
		err := d.src.scan(ctx, ulid.ULID{}, false, func(rec eventlog.Record) error {
			if rec.ID.Compare(d.since) > 0 {
				return errStopScan
			}
			e, err := projection.Decode(rec.ID, rec.Data)
			if err != nil {
				return err
			}
			if p, ok := e.Payload.(projection.ChatCreated); ok && p.Chat == d.chat {
				d.chatSeen = true
				return errStopScan
			}
			return nil
		}, func() error { return nil })
		if err != nil && !errors.Is(err, errStopScan) {
			return fmt.Errorf("%s: %w", d.src, err)
		}
	}
	if !d.chatSeen {
		return fmt.Errorf("events dump: no chat %q in the log", d.chat)
	}
	return nil
}
