package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/chateau/chateau/eventlog"
	"github.com/chateau/chateau/projection"
	"github.com/oklog/ulid/v2"
)

// mustWriteLog creates a data file in t.TempDir holding events, and
// returns its path and the ids given to them.
func mustWriteLog(t *testing.T, events ...projection.Event) (string, []ulid.ULID) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "chateau.db")
	l, _, err := eventlog.Open(path, eventlog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ids := appendEvents(t, l.Append, events...)
	if err := l.Check(); err != nil {
		t.Fatal(err)
	}
	return path, ids
}

// appendEvents encodes events and stores them one at a time with
// appendFn, a log's Append, and returns their ids.
func appendEvents(t *testing.T, appendFn func(...[]byte) ([]ulid.ULID, error), events ...projection.Event) []ulid.ULID {
	t.Helper()
	var ids []ulid.ULID
	for _, e := range events {
		b, err := projection.Encode(e)
		if err != nil {
			t.Fatal(err)
		}
		id, err := appendFn(b)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id[0])
	}
	return ids
}

// sampleEvents: ann (with a password) and bob register, ann opens "team"
// with bob, bob answers, ann writes to carl directly.
func sampleEvents() []projection.Event {
	return []projection.Event{
		{Actor: "ann", Payload: projection.UserRegistered{Username: "ann", PasswordHash: []byte("$argon2id$secret-hash")}},
		{Actor: "bob", Payload: projection.UserRegistered{Username: "bob"}},
		{Actor: "carl", Payload: projection.UserRegistered{Username: "carl"}},
		{Actor: "ann", RequestID: `"m1"`, Payload: projection.ChatCreated{Chat: "team", Members: []string{"ann", "bob"}, Content: "hello team"}},
		{Actor: "bob", Payload: projection.GroupMessagePosted{Chat: "team", Content: "hi ann"}},
		{Actor: "ann", Payload: projection.DirectMessageSent{Recipient: "carl", Content: "psst"}},
	}
}

func runMain(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err = (&Main{Stdout: &out, Stderr: &errOut}).Run(context.Background(), args)
	return out.String(), errOut.String(), err
}

func TestDump_Filters(t *testing.T) {
	path, ids := mustWriteLog(t, sampleEvents()...)
	tests := []struct {
		name string
		args []string
		want []int // indexes into ids
	}{
		{"all", nil, []int{0, 1, 2, 3, 4, 5}},
		{"type", []string{"-type", "UserRegistered"}, []int{0, 1, 2}},
		{"chat", []string{"-chat", "team"}, []int{3, 4}},
		{"user bob", []string{"-user", "bob"}, []int{1, 3, 4}},
		{"user carl", []string{"-user", "carl"}, []int{2, 5}},
		{"since", []string{"-since", ids[3].String()}, []int{4, 5}},
		{"limit", []string{"-limit", "2"}, []int{0, 1}},
		{"combined", []string{"-user", "ann", "-since", ids[0].String(), "-limit", "2"}, []int{3, 4}},
		{"no match", []string{"-chat", "team", "-type", "UserRegistered"}, nil},
		{"chat before since", []string{"-chat", "team", "-since", ids[4].String()}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, _, err := runMain(t, append([]string{"events", "dump", "-data", path}, tt.args...)...)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
				if line == "" {
					continue
				}
				var e struct{ ID, Type, Time, Actor string }
				if err := json.Unmarshal([]byte(line), &e); err != nil {
					t.Fatalf("line %q: %v", line, err)
				}
				if e.Type == "" || e.Actor == "" || !strings.HasSuffix(e.Time, "Z") {
					t.Errorf("line lacks type, actor or UTC time: %s", line)
				}
				got = append(got, e.ID)
			}
			var want []string
			for _, i := range tt.want {
				want = append(want, ids[i].String())
			}
			if strings.Join(got, ",") != strings.Join(want, ",") {
				t.Fatalf("got ids %v, want %v", got, want)
			}
		})
	}
}

func TestDump_Content(t *testing.T) {
	path, ids := mustWriteLog(t, sampleEvents()...)
	out, _, err := runMain(t, "events", "dump", "-data", path, "-chat", "team", "-limit", "1")
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"id": ids[3].String(), "type": "ChatCreated", "actor": "ann", "messageID": "m1", "v": float64(1),
		"time": projection.FormatTime(ulid.Time(ids[3].Time())),
		"data": map[string]any{"chatname": "team", "members": []any{"ann", "bob"}, "content": "hello team"},
	}
	gotJSON, _ := json.Marshal(got)
	wantJSON, _ := json.Marshal(want)
	if !bytes.Equal(gotJSON, wantJSON) {
		t.Fatalf("got %s\nwant %s", gotJSON, wantJSON)
	}
}

func TestDump_NeverShowsPasswordHash(t *testing.T) {
	path, _ := mustWriteLog(t, sampleEvents()...)
	for _, format := range []string{"json", "text"} {
		out, _, err := runMain(t, "events", "dump", "-data", path, "-format", format)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(out, "secret-hash") || strings.Contains(out, "argon2") {
			t.Fatalf("%s dump shows the hash:\n%s", format, out)
		}
		if lines := strings.Count(out, "\n"); lines != len(sampleEvents()) {
			t.Fatalf("%s dump has %d lines, want %d", format, lines, len(sampleEvents()))
		}
	}
}

func TestDump_BadFlags(t *testing.T) {
	path, _ := mustWriteLog(t, sampleEvents()...)
	for _, args := range [][]string{
		{"-type", "Nope"},
		{"-since", "not-a-ulid"},
		{"-limit", "-1"},
		{"-limit", "x"},
		{"-format", "xml"},
		{"-bogus"},
		{"extra"},
	} {
		_, _, err := runMain(t, append([]string{"events", "dump", "-data", path}, args...)...)
		var ue *usageError
		if err == nil || !errorsAs(err, &ue) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: got %v, want a one-line usage error", args, err)
		}
	}
}

// TestDump_UnknownNames: a --chat or --user that names nothing in the log
// is an error (exit 1, one line); one that names something but matches
// nothing is not.
func TestDump_UnknownNames(t *testing.T) {
	path, ids := mustWriteLog(t, sampleEvents()...)
	tests := []struct {
		name string
		args []string
		want string // in the error; "" for none
	}{
		{"chat", []string{"-chat", "nope"}, `no chat "nope" in the log`},
		{"chat after since", []string{"-chat", "nope", "-since", ids[2].String()}, `no chat "nope" in the log`},
		{"user", []string{"-user", "dave"}, `no user "dave" in the log`},
		{"user and chat", []string{"-user", "dave", "-chat", "team"}, `no user "dave" in the log`},
		{"chat of user", []string{"-user", "carl", "-chat", "nope"}, `no chat "nope" in the log`},
		{"both known", []string{"-user", "carl", "-chat", "team"}, ""},
		{"chat created before since", []string{"-chat", "team", "-since", ids[5].String()}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, _, err := runMain(t, append([]string{"events", "dump", "-data", path}, tt.args...)...)
			if out != "" {
				t.Errorf("printed %q", out)
			}
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var stderr bytes.Buffer
			if code := exitCode(err, &stderr); code != 1 || !strings.Contains(stderr.String(), tt.want) || strings.Count(stderr.String(), "\n") != 1 {
				t.Fatalf("exit %d, stderr %q; want 1 and one line with %q", code, stderr.String(), tt.want)
			}
		})
	}
}

// TestDump_FollowStoppedServer: a data file no server holds cannot be
// followed, and nothing is printed.
func TestDump_FollowStoppedServer(t *testing.T) {
	path, _ := mustWriteLog(t, sampleEvents()...)
	out, _, err := runMain(t, "events", "dump", "-data", path, "-follow")
	if err == nil || !strings.Contains(err.Error(), "-follow needs a running server") || out != "" {
		t.Fatalf("got %v, printed %q", err, out)
	}
	if code := exitCode(err, io.Discard); code != 1 {
		t.Fatalf("exit code %d, want 1", code)
	}
}

// TestDump_MembersAndChanges: --user follows the members of a chat as
// they change, and --chat and --user place an edit or a deletion where
// its message is.
func TestDump_MembersAndChanges(t *testing.T) {
	events := append(sampleEvents(), // 3: team (ann, bob), 4: bob's message
		projection.Event{Actor: "bob", Payload: projection.ChatMembersAdded{Chat: "team", Added: []string{"carl"}}},   // 6
		projection.Event{Actor: "ann", Payload: projection.GroupMessagePosted{Chat: "team", Content: "welcome carl"}}, // 7
		projection.Event{Actor: "carl", Payload: projection.ChatMemberLeft{Chat: "team"}},                             // 8
		projection.Event{Actor: "ann", Payload: projection.GroupMessagePosted{Chat: "team", Content: "carl left"}},    // 9
	)
	data, ids := mustWriteLog(t, events...)
	more := []projection.Event{
		{Actor: "ann", Payload: projection.MessageEdited{Message: ids[7], Content: "welcome, carl"}}, // 10
		{Actor: "ann", Payload: projection.MessageDeleted{Message: ids[9]}},                          // 11
		{Actor: "ann", Payload: projection.MessageEdited{Message: ids[5], Content: "psst!"}},         // 12: the direct message
	}
	l, _, err := eventlog.Open(data, eventlog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ids = append(ids, appendEvents(t, l.Append, more...)...)
	l.Close()
	tests := []struct {
		args []string
		want []int // indexes into ids
	}{
		{[]string{"-user", "carl"}, []int{2, 5, 6, 7, 8, 10, 12}},
		{[]string{"-chat", "team"}, []int{3, 4, 6, 7, 8, 9, 10, 11}},
	}
	for _, tt := range tests {
		out, _, err := runMain(t, append([]string{"events", "dump", "-data", data}, tt.args...)...)
		if err != nil {
			t.Fatalf("%v: %v", tt.args, err)
		}
		var got []int
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			var e struct{ ID string }
			if err := json.Unmarshal([]byte(line), &e); err != nil {
				t.Fatalf("%v: %q: %v", tt.args, line, err)
			}
			got = append(got, slices.IndexFunc(ids, func(id ulid.ULID) bool { return id.String() == e.ID }))
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("dump %v printed events %v, want %v", tt.args, got, tt.want)
		}
	}
}
