package projection_test

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"

	"github.com/chateau/chateau/projection"
)

// hashForms returns the forms in which a leaked hash would show: its bytes,
// its text, hex and every base64 alphabet, and the parts of a PHC string.
func hashForms(hash []byte) [][]byte {
	forms := [][]byte{
		hash,
		[]byte(hex.EncodeToString(hash)),
		[]byte(strings.ToUpper(hex.EncodeToString(hash))),
		[]byte(base64.StdEncoding.EncodeToString(hash)),
		[]byte(base64.RawStdEncoding.EncodeToString(hash)),
		[]byte(base64.URLEncoding.EncodeToString(hash)),
		[]byte(base64.RawURLEncoding.EncodeToString(hash)),
	}
	if j, err := json.Marshal(string(hash)); err == nil {
		forms = append(forms, bytes.Trim(j, `"`)) // as a JSON string would escape it
	}
	for _, part := range bytes.Split(hash, []byte("$")) {
		if len(part) >= 8 { // salt and key of a PHC string
			forms = append(forms, part)
		}
	}
	return forms
}

// realHash returns an Argon2id hash from HashPassword, at the lowest cost.
func realHash(t *testing.T) []byte {
	t.Helper()
	h, err := projection.HashPassword("correct horse battery staple", projection.PasswordCost{Time: 1, MemoryKiB: 8})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestEvent_MarshalJSON(t *testing.T) {
	for _, e := range sampleEvents() {
		t.Run(name(e), func(t *testing.T) {
			out, err := json.Marshal(e)
			if err != nil {
				t.Fatalf("marshal: %v", err)
			}
			var got map[string]any
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatalf("output is not a JSON object: %v\n%s", err, out)
			}
			want := map[string]any{
				"id":    e.ID.String(),
				"type":  e.Payload.Type(),
				"time":  projection.FormatTime(e.Time()),
				"actor": e.Actor,
				"v":     float64(projection.FormatVersion),
			}
			for k, v := range want {
				if got[k] != v {
					t.Errorf("%q = %#v, want %#v", k, got[k], v)
				}
			}
			if _, ok := got["data"].(map[string]any); !ok {
				t.Errorf("data = %#v, want an object", got["data"])
			}
			msgID, has := got["messageID"]
			if wantHas := e.RequestID != "" && json.Valid([]byte(e.RequestID)); has != wantHas {
				t.Errorf("messageID present: %v, want %v (request id %q)", has, wantHas, e.RequestID)
			}
			if has {
				mj, _ := json.Marshal(msgID)
				var rj any
				_ = json.Unmarshal([]byte(e.RequestID), &rj)
				if rjj, _ := json.Marshal(rj); !bytes.Equal(mj, rjj) {
					t.Errorf("messageID = %s, want %s", mj, e.RequestID)
				}
			}
		})
	}
}

func TestEvent_MarshalJSON_Data(t *testing.T) {
	id := idAt(5, 1)
	tests := []struct {
		name string
		p    projection.Payload
		want string
	}{
		{"unprotected", projection.UserRegistered{Username: "al"}, `{"username":"al","protected":false}`},
		{"protected", projection.UserRegistered{Username: "al", PasswordHash: hashBytes}, `{"username":"al","protected":true}`},
		{"chat", projection.ChatCreated{Chat: "c", Members: []string{"al", "b"}, Content: "hi"},
			`{"chatname":"c","members":["al","b"],"content":"hi"}`},
		{"group", projection.GroupMessagePosted{Chat: "c", Content: "hi"}, `{"chatname":"c","content":"hi"}`},
		{"direct", projection.DirectMessageSent{Recipient: "b", Content: "hi"}, `{"recipient":"b","content":"hi"}`},
		{"random", projection.DirectMessageSent{Recipient: "b", Content: "hi", Random: true},
			`{"recipient":"b","content":"hi","random":true}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := json.Marshal(projection.Event{ID: id, Actor: "al", Payload: tt.p})
			if err != nil {
				t.Fatal(err)
			}
			var got struct{ Data json.RawMessage }
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatal(err)
			}
			if string(got.Data) != tt.want {
				t.Errorf("data = %s, want %s", got.Data, tt.want)
			}
		})
	}
	if _, err := json.Marshal(projection.Event{ID: id}); err == nil {
		t.Error("marshal of an event without payload succeeded")
	}
}

// TestEvent_NoHash: neither the JSON nor the text form of a registration
// shows its password hash, in any encoding.
func TestEvent_NoHash(t *testing.T) {
	for _, tt := range []struct {
		name string
		hash []byte
	}{
		{"argon2id", realHash(t)},
		{"binary", hashBytes},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := projection.Event{ID: idAt(0, 1), Actor: "alice", RequestID: `"m1"`,
				Payload: projection.UserRegistered{Username: "alice", PasswordHash: tt.hash}}
			// Through the stored form too, as `events dump` does.
			decoded, err := projection.Decode(e.ID, mustEncode(e))
			if err != nil {
				t.Fatal(err)
			}
			js, err := json.Marshal(decoded)
			if err != nil {
				t.Fatal(err)
			}
			text := decoded.Text()
			for _, form := range hashForms(tt.hash) {
				if bytes.Contains(js, form) {
					t.Errorf("JSON contains the hash as %q:\n%s", form, js)
				}
				if strings.Contains(text, string(form)) {
					t.Errorf("text contains the hash as %q:\n%s", form, text)
				}
			}
			if !bytes.Contains(js, []byte(`"protected":true`)) {
				t.Errorf("JSON does not say the name is protected: %s", js)
			}
			if !strings.Contains(text, "(with password)") {
				t.Errorf("text does not say the name is protected: %s", text)
			}
		})
	}
}

func TestEvent_Text(t *testing.T) {
	id := idAt(1500, 7)
	tests := []struct {
		name string
		e    projection.Event
		want []string // substrings, in order
		not  []string
	}{
		{"registered", projection.Event{ID: id, Actor: "alice", Payload: projection.UserRegistered{Username: "alice"}},
			[]string{"UserRegistered", "alice"}, []string{"password"}},
		{"protected", projection.Event{ID: id, Actor: "alice", Payload: projection.UserRegistered{Username: "alice", PasswordHash: hashBytes}},
			[]string{"UserRegistered", "alice", "(with password)"}, nil},
		{"chat", projection.Event{ID: id, Actor: "alice", Payload: projection.ChatCreated{Chat: "general", Members: []string{"alice", "bob"}, Content: "hi\n"}},
			[]string{"ChatCreated", "alice", "#general", "[alice, bob]", `"hi\n"`}, nil},
		{"group", projection.Event{ID: id, Actor: "bob", Payload: projection.GroupMessagePosted{Chat: "general", Content: "yo"}},
			[]string{"GroupMessagePosted", "bob", "#general", `"yo"`}, nil},
		{"direct", projection.Event{ID: id, Actor: "bob", Payload: projection.DirectMessageSent{Recipient: "carol", Content: "psst"}},
			[]string{"DirectMessageSent", "bob", "@carol", `"psst"`}, []string{"(random)"}},
		{"random", projection.Event{ID: id, Actor: "bob", Payload: projection.DirectMessageSent{Recipient: "carol", Content: "psst", Random: true}},
			[]string{"DirectMessageSent", "bob", "@carol (random)", `"psst"`}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text := tt.e.Text()
			if strings.Contains(text, "\n") {
				t.Errorf("text is not one line: %q", text)
			}
			want := append([]string{projection.FormatTime(tt.e.Time()), id.String()}, tt.want...)
			rest := text
			for _, w := range want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("text %q lacks %q (in order %q)", text, w, want)
				}
				rest = rest[i+len(w):]
			}
			for _, n := range tt.not {
				if strings.Contains(text, n) {
					t.Errorf("text %q contains %q", text, n)
				}
			}
		})
	}
}

func TestEvent_Time(t *testing.T) {
	e := projection.Event{ID: idAt(1234, 1)}
	want := t0.Add(1234e6) // 1.234 s
	if got := e.Time(); !got.Equal(want) || got.Location().String() != "UTC" {
		t.Errorf("Time = %v, want %v in UTC", got, want)
	}
	if got, want := projection.FormatTime(e.Time()), "2024-05-17T12:00:01.234Z"; got != want {
		t.Errorf("FormatTime = %s, want %s", got, want)
	}
}

func TestEvent_Involves(t *testing.T) {
	tests := []struct {
		name string
		e    projection.Event
		user string
		want bool
	}{
		{"actor", projection.Event{Actor: "a", Payload: projection.GroupMessagePosted{Chat: "c"}}, "a", true},
		{"group message, not actor", projection.Event{Actor: "a", Payload: projection.GroupMessagePosted{Chat: "c"}}, "b", false},
		{"registered name", projection.Event{Actor: "x", Payload: projection.UserRegistered{Username: "b"}}, "b", true},
		{"other registration", projection.Event{Actor: "x", Payload: projection.UserRegistered{Username: "b"}}, "c", false},
		{"chat member", projection.Event{Actor: "a", Payload: projection.ChatCreated{Chat: "c", Members: []string{"a", "b", "d"}}}, "d", true},
		{"not a chat member", projection.Event{Actor: "a", Payload: projection.ChatCreated{Chat: "c", Members: []string{"a", "b", "d"}}}, "c", false},
		{"chat named after the user", projection.Event{Actor: "a", Payload: projection.ChatCreated{Chat: "b", Members: []string{"a"}}}, "b", false},
		{"recipient", projection.Event{Actor: "a", Payload: projection.DirectMessageSent{Recipient: "b"}}, "b", true},
		{"not the recipient", projection.Event{Actor: "a", Payload: projection.DirectMessageSent{Recipient: "b"}}, "c", false},
		{"named in the content", projection.Event{Actor: "a", Payload: projection.DirectMessageSent{Recipient: "b", Content: "c"}}, "c", false},
		{"case matters", projection.Event{Actor: "Alice", Payload: projection.DirectMessageSent{Recipient: "Bob"}}, "alice", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.e.Involves(tt.user); got != tt.want {
				t.Errorf("Involves(%q) = %v, want %v", tt.user, got, tt.want)
			}
		})
	}
}

func TestEvent_ChatName(t *testing.T) {
	tests := []struct {
		p    projection.Payload
		want string
	}{
		{projection.ChatCreated{Chat: "general"}, "general"},
		{projection.GroupMessagePosted{Chat: "☕"}, "☕"},
		{projection.DirectMessageSent{Recipient: "general"}, ""},
		{projection.UserRegistered{Username: "general"}, ""},
		{nil, ""},
	}
	for _, tt := range tests {
		if got := (projection.Event{Actor: "a", Payload: tt.p}).ChatName(); got != tt.want {
			t.Errorf("ChatName of %#v = %q, want %q", tt.p, got, tt.want)
		}
	}
}
