package wsapi

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// TestEncode checks that encode writes what encoding/json writes for the
// same frame, HTML escaping aside.
func TestEncode(t *testing.T) {
	content := "say \"hi\"\\ \n\r\t\x00\x1f é 🚀 \u2028\u2029 <b>&</b> \xff end"
	empty := ""
	frames := []frame{
		{Type: frameError, Status: StatusBadRequest, MessageID: []byte(`"m1"`), Reason: "bad \"request\"", Request: typeGroupMessage},
		{Type: frameError, Status: StatusTooMany, Reason: "wait", Request: typeRegister, RetryAfter: 3},
		{Type: frameRegister, Status: StatusOK, MessageID: []byte(`42`), Username: "ann", LastID: "01M8ANA9K2023SXKXQGTBYMQ6P"},
		{Type: frameGroupMessageRecv, Status: StatusCreated, Chatname: "Team 🚀", Members: []string{"ann", "bob"}, Sender: "ann", Content: &content, ID: "01M8ANA9K2023SXKXQGTBYMQ6P", Time: "2026-11-26T00:50:31.650Z", Replay: true},
		{Type: frameSingleMessageRecv, Status: StatusOK, Sender: "bob", Content: &empty, Random: true},
		{Type: frameRandomMessage, Status: StatusOK, Clients: "bob"},
		{Type: frameClientList, Status: StatusOK, Clients: []string{"ann", "bob"}},
		{Type: frameClientList, Status: StatusOK, Clients: []string{}},
		{Type: frameSingleMessage, Status: StatusOK, Recipient: "carl"},
	}
	for _, f := range frames {
		want, err := json.Marshal(&f)
		if err != nil {
			t.Fatal(err)
		}
		want = unescapeHTML(want)
		if got := encode(&f); !bytes.Equal(got, want) {
			t.Errorf("encode(%+v)\n got %s\nwant %s", f, got, want)
		}
	}
}

// unescapeHTML undoes encoding/json's escaping of <, > and &.
func unescapeHTML(b []byte) []byte {
	r := strings.NewReplacer(`\u003c`, "<", `\u003e`, ">", `\u0026`, "&")
	return []byte(r.Replace(string(b)))
}

// FuzzAppendString checks appendString against encoding/json.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", "quote\" back\\", "\x00\x1f\x7f", "\u2028\u2029", "\xff\xfe", "é🚀", "<&>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := appendString(nil, s); !bytes.Equal(got, unescapeHTML(want)) {
			t.Fatalf("appendString(%q) = %s, want %s", s, got, want)
		}
	})
}
