package wsapi

import (
	"bytes"
	"encoding/json"
	"testing"
	"unicode/utf8"
)

// FuzzDecodeRequest checks that no frame makes decoding panic, that every
// decoded request is either an error or a known type with valid UTF-8
// fields, and that its answer is valid JSON echoing the messageID.
func FuzzDecodeRequest(f *testing.F) {
	for _, seed := range []string{
		`{"type":"RegisterRequest","username":"ann","password":"correct horse","messageID":"m1"}`,
		`{"type":"GroupMessageInitRequest","recipients":["bob","carl"],"content":"hi","chatname":"team 🚀"}`,
		`{"type":"GroupMessageRequest","chatname":"team","content":"x","messageID":42}`,
		`{"type":"ClientListRequest"}`,
		`{"type":"RandomMessageRequest","content":""}`,
		`{"type":"SingleMessageRequest","recipient":"bob","content":"\u0000\ud800"}`,
		`{"type":"SingleMessageRequest","recipient":"bob","recipient":7}`,
		`[{"type":"ClientListRequest"}]`,
		`{"type":"ClientListRequest","messageID":1e999}`,
		`{"type":`,
		"\xff\xfe",
		``,
		`{"Type":"ClientListRequest"}`,
		` { "type" : "GroupMessageRequest" , "chatname" : "a\"b" , "content" : "x" , "x" : [1,{"y":null}] } `,
		`{"type":"ClientListRequest","type":"RegisterRequest","username":null}`,
		`{"type":"ClientListRequest"} x`,
		`{"type":"ChatListRequest","messageID":"c"}`,
		`{"type":"HistoryRequest","chatname":"team","before":"01KB0000000000000000000000","limit":20}`,
		`{"type":"HistoryRequest","recipient":"bob","after":"01KB0000000000000000000000"}`,
		`{"type":"HistoryRequest","chatname":"team","recipient":"bob"}`,
		`{"type":"RegisterRequest","username":"ann","since":"01KB0000000000000000000000"}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		// The scan must agree with encoding/json whenever it answers.
		var scanned, reference rawRequest
		if utf8.Valid(frame) && scanRequest(frame, &scanned) {
			if err := json.Unmarshal(frame, &reference); err != nil {
				t.Fatalf("scan accepted what encoding/json refuses: %v", err)
			}
			a, b := [...]json.RawMessage{scanned.Type, scanned.MessageID, scanned.Username, scanned.Password, scanned.Chatname,
				scanned.Content, scanned.Recipient, scanned.Recipients, scanned.Since, scanned.Before, scanned.After, scanned.Limit},
				[...]json.RawMessage{reference.Type, reference.MessageID, reference.Username, reference.Password, reference.Chatname,
					reference.Content, reference.Recipient, reference.Recipients, reference.Since, reference.Before, reference.After, reference.Limit}
			for i := range a {
				if isPresent(a[i]) != isPresent(b[i]) || isPresent(a[i]) && !bytes.Equal(a[i], b[i]) {
					t.Fatalf("field %d: scan %q, encoding/json %q", i, a[i], b[i])
				}
			}
		}
		r := decodeRequest(frame, DefaultMaxContentBytes)
		if r.err == nil {
			switch r.kind {
			case typeRegister, typeGroupMessageInit, typeGroupMessage, typeClientList, typeRandomMessage, typeSingleMessage,
				typeChatList, typeHistory:
			default:
				t.Fatalf("no error but kind %q", r.kind)
			}
			for _, s := range append([]string{r.username, r.password, r.chatname, r.content, r.recipient}, r.recipients...) {
				if !utf8.ValidString(s) {
					t.Fatalf("invalid UTF-8 field %q", s)
				}
			}
			if len(r.content) > DefaultMaxContentBytes {
				t.Fatalf("content of %d bytes accepted", len(r.content))
			}
			return
		}
		answer := errorFrame(r, r.err)
		var m map[string]any
		if err := json.Unmarshal(answer, &m); err != nil {
			t.Fatalf("answer %q is not valid JSON: %v", answer, err)
		}
		if statusOf(r.err) == StatusInternal {
			t.Fatalf("decoding error %v maps to 500", r.err)
		}
		if len(r.messageID) > 0 && m["messageID"] == nil {
			t.Fatalf("messageID %s not echoed in %s", r.messageID, answer)
		}
	})
}
