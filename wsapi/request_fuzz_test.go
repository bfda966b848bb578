package wsapi

import (
	"bytes"
	"encoding/json"
	"testing"
	"unicode/utf8"

	"github.com/chateau/chateau/chat"
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
			if err := unmarshalJSON(frame, &reference); err != nil {
				t.Fatalf("scan accepted what encoding/json refuses: %v", err)
			}
			for i := range scanned {
				if isPresent(scanned[i]) != isPresent(reference[i]) || isPresent(scanned[i]) && !bytes.Equal(scanned[i], reference[i]) {
					t.Fatalf("field %q: scan %q, encoding/json %q", requestFields[i], scanned[i], reference[i])
				}
			}
		}
		r := decodeRequest(frame, DefaultMaxContentBytes)
		if r.Err == nil {
			switch r.Kind {
			case chat.TypeRegister, chat.TypeGroupMessageInit, chat.TypeGroupMessage, chat.TypeClientList, chat.TypeRandomMessage,
				chat.TypeSingleMessage, chat.TypeChatList, chat.TypeHistory:
			default:
				t.Fatalf("no error but kind %q", r.Kind)
			}
			for _, s := range append([]string{r.Username, r.Password, r.Chatname, r.Content, r.Recipient}, r.Recipients...) {
				if !utf8.ValidString(s) {
					t.Fatalf("invalid UTF-8 field %q", s)
				}
			}
			if len(r.Content) > DefaultMaxContentBytes {
				t.Fatalf("content of %d bytes accepted", len(r.Content))
			}
			return
		}
		answer := Encode(chat.Frame{Type: chat.FrameError, Status: chat.StatusOf(r.Err), MessageID: r.MessageID,
			Reason: r.Err.Error(), Request: r.Kind})
		var m map[string]any
		if err := json.Unmarshal(answer, &m); err != nil {
			t.Fatalf("answer %q is not valid JSON: %v", answer, err)
		}
		if chat.StatusOf(r.Err) == chat.StatusInternal {
			t.Fatalf("decoding error %v maps to 500", r.Err)
		}
		if len(r.MessageID) > 0 && m["messageID"] == nil {
			t.Fatalf("messageID %s not echoed in %s", r.MessageID, answer)
		}
	})
}
