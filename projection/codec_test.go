package projection_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"testing"

	"github.com/chateau/chateau/projection"
	"github.com/oklog/ulid/v2"
)

func TestEncode_RoundTrip(t *testing.T) {
	for _, e := range sampleEvents() {
		t.Run(name(e), func(t *testing.T) {
			data, err := projection.Encode(e)
			if err != nil {
				t.Fatalf("encode: %v", err)
			}
			if len(data) < 2 || data[0] != projection.FormatVersion {
				t.Fatalf("encoding does not start with the format version: % x", data[:min(len(data), 8)])
			}
			got, err := projection.Decode(e.ID, data)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if !equalEvents(got, e) {
				t.Errorf("round trip changed the event:\n got %+v\nwant %+v", got, e)
			}
			if got.Payload.Type() != e.Payload.Type() {
				t.Errorf("type %s, want %s", got.Payload.Type(), e.Payload.Type())
			}
			// Encoding is deterministic.
			again, err := projection.Encode(got)
			if err != nil || !bytes.Equal(again, data) {
				t.Errorf("re-encoding the decoded event gave different bytes (%v)", err)
			}
		})
	}
}

// TestEncode_Empty: an empty password hash and an empty member list decode
// as nil (the encoding does not keep the difference), and a registration
// without hash is unprotected either way.
func TestEncode_Empty(t *testing.T) {
	for _, hash := range [][]byte{nil, {}} {
		e := projection.Event{ID: idAt(1, 1), Payload: projection.UserRegistered{Username: "a", PasswordHash: hash}}
		got, err := projection.Decode(e.ID, mustEncode(e))
		if err != nil {
			t.Fatal(err)
		}
		if p := got.Payload.(projection.UserRegistered); p.PasswordHash != nil || p.Protected() {
			t.Errorf("hash %#v decoded as %#v (protected %v), want nil", hash, p.PasswordHash, p.Protected())
		}
	}
}

// TestDecode_NoAlias: Decode must not keep a reference to its input, which
// bbolt owns only for the length of a transaction.
func TestDecode_NoAlias(t *testing.T) {
	for _, e := range sampleEvents() {
		t.Run(name(e), func(t *testing.T) {
			data := mustEncode(e)
			got, err := projection.Decode(e.ID, data)
			if err != nil {
				t.Fatal(err)
			}
			for i := range data {
				data[i] = 0xAA
			}
			if !equalEvents(got, e) {
				t.Errorf("overwriting the input changed the decoded event:\n got %+v\nwant %+v", got, e)
			}
		})
	}
}

func TestEncode_UnknownPayload(t *testing.T) {
	type other struct{ projection.GroupMessagePosted }
	for _, p := range []projection.Payload{nil, other{}, &projection.GroupMessagePosted{}} {
		if data, err := projection.Encode(projection.Event{Payload: p}); err == nil {
			t.Errorf("Encode(%T) = % x, want an error", p, data)
		}
	}
}

// decode calls Decode, turning a panic into a test failure.
func decode(t *testing.T, data []byte) (e projection.Event, err error) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("Decode(% x) panicked: %v", data[:min(len(data), 32)], r)
		}
	}()
	return projection.Decode(idAt(0, 1), data)
}

// uvarint returns the varint encoding of v.
func uvarint(v uint64) []byte { return binary.AppendUvarint(nil, v) }

// cat concatenates byte slices.
func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func TestDecode_Malformed(t *testing.T) {
	v := []byte{projection.FormatVersion}
	str := func(s string) []byte { return cat(uvarint(uint64(len(s))), []byte(s)) }
	head := func(code byte) []byte { return cat(v, []byte{code}, str("actor"), str("")) }
	valid := mustEncode(projection.Event{Actor: "a", Payload: projection.GroupMessagePosted{Chat: "c", Content: "hi"}})
	members := func(n int) []byte {
		b := cat(head(2), str("chat"), uvarint(uint64(n)))
		b = append(b, make([]byte, n)...) // n empty names
		return cat(b, str("content"))
	}
	if _, err := decode(t, members(1<<16)); err != nil {
		t.Fatalf("a chat with the largest member count does not decode: %v", err)
	}

	tests := []struct {
		name string
		data []byte
	}{
		{"nil", nil},
		{"empty", []byte{}},
		{"version only", v},
		{"version 0", cat([]byte{0}, valid[1:])},
		{"version 2", cat([]byte{2}, valid[1:])},
		{"version 255", cat([]byte{255}, valid[1:])},
		{"type code 0", cat(v, []byte{0}, valid[2:])},
		{"type code 5", cat(v, []byte{5}, valid[2:])},
		{"type code 255", cat(v, []byte{255}, valid[2:])},
		{"trailing byte", cat(valid, []byte{0})},
		{"trailing bytes", cat(valid, []byte("garbage"))},
		{"trailing valid event", cat(valid, valid)},
		{"huge actor length", cat(v, []byte{3}, uvarint(1<<62), []byte("abc"))},
		{"actor length past the end", cat(v, []byte{3}, uvarint(6), []byte("abcde"))},
		{"max uint64 length", cat(v, []byte{3}, uvarint(^uint64(0)), []byte("abc"))},
		{"varint overflow", cat(v, []byte{3}, bytes.Repeat([]byte{0xff}, 10), []byte{1})},
		{"unterminated varint", cat(v, []byte{3}, []byte{0x80, 0x80})},
		{"huge content length", cat(head(3), str("chat"), uvarint(1<<40))},
		{"huge hash length", cat(head(1), str("alice"), uvarint(1<<50), []byte{1, 2, 3})},
		{"huge member count", cat(head(2), str("chat"), uvarint(1<<40), str("a"), str("b"))},
		{"max member count", cat(head(2), str("chat"), uvarint(^uint64(0)), str("a"))},
		{"member count past the end", cat(head(2), str("chat"), uvarint(3), str("a"), str("b"))},
		{"member count over the limit", members(1<<16 + 1)},
		{"random 2", cat(head(4), str("bob"), str("hi"), []byte{2})},
		{"random 255", cat(head(4), str("bob"), str("hi"), []byte{255})},
		{"random missing", cat(head(4), str("bob"), str("hi"))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := decode(t, tt.data)
			if !errors.Is(err, projection.ErrBadEvent) {
				t.Errorf("Decode = %+v, %v; want an error wrapping ErrBadEvent", e, err)
			}
			if e.Payload != nil {
				t.Errorf("Decode returned a payload (%+v) with its error", e.Payload)
			}
		})
	}
}

// TestDecode_Truncated decodes every proper prefix of every sample.
func TestDecode_Truncated(t *testing.T) {
	for _, e := range sampleEvents() {
		data := mustEncode(e)
		if len(data) > 1000 {
			continue // the long samples add nothing but time
		}
		t.Run(name(e), func(t *testing.T) {
			for n := 0; n < len(data); n++ {
				if _, err := decode(t, bytes.Clone(data[:n])); !errors.Is(err, projection.ErrBadEvent) {
					t.Errorf("Decode of the first %d of %d bytes = %v, want ErrBadEvent", n, len(data), err)
				}
			}
		})
	}
}

// TestDecode_Corrupted flips every bit of a few samples: Decode must not
// panic, and whatever it accepts must encode and decode again to itself.
func TestDecode_Corrupted(t *testing.T) {
	for _, e := range sampleEvents()[:8] {
		data := mustEncode(e)
		for i := range data {
			for bit := range 8 {
				c := bytes.Clone(data)
				c[i] ^= 1 << bit
				checkDecoded(t, c)
			}
		}
	}
}

// checkDecoded is the property FuzzDecode checks: Decode never panics, its
// errors wrap ErrBadEvent, and what it accepts survives a round trip.
func checkDecoded(t *testing.T, data []byte) {
	t.Helper()
	id := idAt(0, 1)
	e, err := decode(t, data)
	if err != nil {
		if !errors.Is(err, projection.ErrBadEvent) {
			t.Fatalf("Decode(% x) = %v, not wrapping ErrBadEvent", data, err)
		}
		return
	}
	if e.ID != id || e.Payload == nil {
		t.Fatalf("Decode(% x) = %+v: wrong id or no payload", data, e)
	}
	enc, err := projection.Encode(e)
	if err != nil {
		t.Fatalf("Encode of decoded %+v: %v", e, err)
	}
	if len(enc) > len(data) {
		t.Fatalf("re-encoding grew the event from %d to %d bytes", len(data), len(enc))
	}
	again, err := projection.Decode(id, enc)
	if err != nil {
		t.Fatalf("Decode(Encode(Decode(% x))): %v", data, err)
	}
	if !equalEvents(again, e) {
		t.Fatalf("round trip of a decoded event changed it:\n got %+v\nwant %+v", again, e)
	}
}

func FuzzDecode(f *testing.F) {
	for _, e := range sampleEvents() {
		if data := mustEncode(e); len(data) < 4096 {
			f.Add(data)
		}
	}
	f.Add([]byte{})
	f.Add([]byte{projection.FormatVersion, 2, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(checkDecoded)
}

// TestEncode_Format pins the encoding of one event of each type: the bytes
// are the stored form and must not change without a new FormatVersion.
func TestEncode_Format(t *testing.T) {
	tests := []struct {
		e    projection.Event
		want string
	}{
		{projection.Event{Actor: "al", Payload: projection.UserRegistered{Username: "al", PasswordHash: []byte{0xab}}},
			"01 01 02 61 6c 00 02 61 6c 01 ab"},
		{projection.Event{Actor: "al", RequestID: "7", Payload: projection.ChatCreated{Chat: "c", Members: []string{"al", "b"}, Content: "hi"}},
			"01 02 02 61 6c 01 37 01 63 02 02 61 6c 01 62 02 68 69"},
		{projection.Event{Actor: "al", Payload: projection.GroupMessagePosted{Chat: "c", Content: "hi"}},
			"01 03 02 61 6c 00 01 63 02 68 69"},
		{projection.Event{Actor: "al", Payload: projection.DirectMessageSent{Recipient: "b", Content: "", Random: true}},
			"01 04 02 61 6c 00 01 62 00 01"},
	}
	for _, tt := range tests {
		t.Run(tt.e.Payload.Type(), func(t *testing.T) {
			if got := fmt.Sprintf("% x", mustEncode(tt.e)); got != tt.want {
				t.Errorf("Encode = %s, want %s", got, tt.want)
			}
		})
	}
}

func BenchmarkEncode(b *testing.B) {
	for _, e := range benchEvents() {
		b.Run(e.Payload.Type(), func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				if _, err := projection.Encode(e); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkDecode(b *testing.B) {
	for _, e := range benchEvents() {
		data := mustEncode(e)
		b.Run(e.Payload.Type(), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for range b.N {
				if _, err := projection.Decode(e.ID, data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// benchEvents are typical events: short names, 100-byte messages.
func benchEvents() []projection.Event {
	content := string(bytes.Repeat([]byte("lorem ipsu"), 10))
	id := ulid.Make()
	return []projection.Event{
		{ID: id, Actor: "alice", Payload: projection.UserRegistered{Username: "alice", PasswordHash: hashBytes}},
		{ID: id, Actor: "alice", RequestID: "17", Payload: projection.ChatCreated{
			Chat: "general", Members: []string{"alice", "bob", "carol", "dave"}, Content: content,
		}},
		{ID: id, Actor: "alice", RequestID: "18", Payload: projection.GroupMessagePosted{Chat: "general", Content: content}},
		{ID: id, Actor: "alice", RequestID: "19", Payload: projection.DirectMessageSent{Recipient: "bob", Content: content}},
	}
}
