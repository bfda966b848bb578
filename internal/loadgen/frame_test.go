package loadgen

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/chateau/chateau/internal/jsonscan"
)

// Frames as the server writes them, for the tests and the fuzz seeds.
const (
	deliveryFrame = `{"type":"GroupMessageRecv","status":200,"chatname":"bench-ab-1","sender":"bench-ab-13",` +
		`"content":"1700000000123456789 42 xxxxxxxx","id":"01JD5Z8G7M4W2Q6R9T3V5X7Y9A","time":"2024-11-26T01:30:33.123Z"}`
	ackFrame      = `{"type":"GroupMessageResponse","status":200,"messageID":42,"chatname":"bench-ab-1","id":"01JD5Z8G7M4W2Q6R9T3V5X7Y9A","time":"2024-11-26T01:30:33.123Z"}`
	errorFrame    = `{"type":"ErrorResponse","status":429,"messageID":7,"reason":"too many requests","request":"GroupMessageRequest"}`
	createdFrame  = `{"type":"GroupMessageRecv","status":201,"chatname":"c","members":["a","b"],"sender":"a","content":"bench","id":"x","time":"t"}`
	escapedFrame  = `{"type":"GroupMessageRecv","content":"a\"b\\c\u00e9\n\ud83c\udf89","sender":"\u0061"}`
	registerFrame = `{"type":"RegisterResponse","status":200,"username":"bench-ab-0"}`
)

// TestScanFrame checks decodeFrame against encoding/json on each input,
// and that the fast path takes the inputs it should.
func TestScanFrame(t *testing.T) {
	deep := `{"a":` + strings.Repeat("[", jsonscan.MaxDepth+5) + strings.Repeat("]", jsonscan.MaxDepth+5) + `,"type":"x"}`
	for _, tc := range []struct {
		name, in string
		fast     bool // scanFrame decodes it, rather than encoding/json
	}{
		{"delivery", deliveryFrame, true},
		{"ack", ackFrame, true},
		{"error", errorFrame, true},
		{"chat created", createdFrame, true},
		{"register", registerFrame, true},
		{"empty object", `{}`, true},
		{"whitespace", " \t\r\n{ \"type\" :\n\"x\" , \"status\" : 200 }\n ", true},
		{"nested unknown", `{"clients":{"a":[1,-2.5e-3,0.5E+7,{"b":null}],"c":true,"d":false,"e":[]},"type":"x"}`, true},
		{"escapes in an unknown value", `{"reason":"ok","time":"a\u2028b\/\"\\\b\f\n\r\t"}`, true},
		{"unicode", `{"content":"héllo 世界 🎉","sender":"ü"}`, true},
		{"invalid UTF-8 in an unknown value", "{\"time\":\"a\xffb\",\"type\":\"x\"}", true},
		{"nulls", `{"type":null,"status":null,"messageID":null,"content":null}`, true},
		{"duplicate key", `{"type":"a","status":1,"type":"b","status":2}`, true},
		{"null keeps the earlier value", `{"type":"a","type":null}`, true},
		{"negative status", `{"status":-5}`, true},
		{"minus zero status", `{"status":-0}`, true},
		{"zero messageID", `{"messageID":0}`, true},
		{"largest fast messageID", `{"messageID":999999999999999999}`, true},

		{"escaped string", escapedFrame, false},
		{"invalid UTF-8", "{\"content\":\"a\xffb\"}", false},
		{"escaped key", `{"\u0074ype":"x"}`, false},
		{"key in capitals", `{"TYPE":"x","Status":5}`, false},
		{"key folded by Unicode", `{"ſtatus":5}`, false},
		{"largest messageID", `{"messageID":18446744073709551615}`, false},
		{"deep nesting", deep, false},
		{"top-level null", `null`, false},

		{"messageID too large", `{"messageID":18446744073709551616}`, false},
		{"status too large", `{"status":99999999999999999999}`, false},
		{"negative messageID", `{"messageID":-1}`, false},
		{"fractional messageID", `{"messageID":1.5}`, false},
		{"exponent status", `{"status":2e2}`, false},
		{"string messageID", `{"messageID":"5"}`, false},
		{"number type", `{"type":5}`, false},
		{"object type", `{"type":{}}`, false},
		{"array", `[1]`, false},
		{"string", `"type"`, false},
		{"empty", ``, false},
		{"unclosed", `{"type":"x"`, false},
		{"unclosed string", `{"type":"x`, false},
		{"trailing comma", `{"type":"x",}`, false},
		{"no colon", `{"type" "x"}`, false},
		{"no comma", `{"type":"x" "status":1}`, false},
		{"after the object", `{"type":"x"} x`, false},
		{"two objects", `{"type":"x"}{}`, false},
		{"bad literal", `{"a":tru}`, false},
		{"literal run on", `{"a":nullx}`, false},
		{"null run on", `{"type":nullx}`, false},
		{"leading zero", `{"a":01}`, false},
		{"bare point", `{"a":1.}`, false},
		{"bare minus", `{"a":-}`, false},
		{"bare exponent", `{"a":1e}`, false},
		{"plus sign", `{"a":+1}`, false},
		{"control character", "{\"a\":\"\x01\"}", false},
		{"bad escape", `{"a":"\q"}`, false},
		{"short unicode escape", `{"a":"\u12"}`, false},
		{"escape at the end", `{"a":"\`, false},
		{"array trailing comma", `{"a":[1,]}`, false},
		{"object without value", `{"a":{"b"}}`, false},
		{"non-string key", `{1:2}`, false},
		{"too many closes", `{"type":"x"}}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := []byte(tc.in)
			var f frame
			if fast := scanFrame(data, &f); fast != tc.fast {
				t.Errorf("scanFrame took it: %v, want %v", fast, tc.fast)
			}
			checkAgainstJSON(t, data)
		})
	}
}

// checkAgainstJSON fails t unless decodeFrame, and scanFrame where it
// answers, decode data as encoding/json does.
func checkAgainstJSON(t *testing.T, data []byte) {
	t.Helper()
	var want jsonFrame
	wantErr := json.Unmarshal(data, &want)
	var f frame
	if scanFrame(data, &f) {
		if wantErr != nil {
			t.Fatalf("scanFrame took %q, which encoding/json rejects: %v", data, wantErr)
		}
		if got := f.json(); got != want {
			t.Fatalf("scanFrame %q:\n got %+v\nwant %+v", data, got, want)
		}
	}
	err := decodeFrame(data, &f)
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("decodeFrame %q: error %v, encoding/json's %v", data, err, wantErr)
	}
	if err == nil && f.json() != want {
		t.Fatalf("decodeFrame %q:\n got %+v\nwant %+v", data, f.json(), want)
	}
}

// json returns f as encoding/json would have decoded it.
func (f *frame) json() jsonFrame {
	return jsonFrame{
		Type: string(f.Type), Status: f.Status, MessageID: f.MessageID, Reason: string(f.Reason),
		Sender: string(f.Sender), Chatname: string(f.Chatname), Content: string(f.Content), ID: string(f.ID),
	}
}

// TestScanFrameAllocs checks that decoding the frames of a run allocates
// nothing: avoiding that is why the scanner exists.
func TestScanFrameAllocs(t *testing.T) {
	for _, in := range []string{deliveryFrame, ackFrame, errorFrame, createdFrame} {
		data := []byte(in)
		var f frame
		if n := testing.AllocsPerRun(100, func() { _ = decodeFrame(data, &f) }); n != 0 {
			t.Errorf("%d allocations for %s", int(n), in)
		}
	}
}

// FuzzScanFrame checks that scanFrame never takes what encoding/json
// rejects nor decodes differently, and that decodeFrame agrees with
// encoding/json on everything.
func FuzzScanFrame(f *testing.F) {
	for _, seed := range []string{
		deliveryFrame, ackFrame, errorFrame, createdFrame, escapedFrame, registerFrame,
		`{"TYPE":"x","status":-0,"messageID":null}`, `{"a":[{"b":[1e5,true]}]}`, "{\"content\":\"a\xff\"}",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkAgainstJSON(t, data)
	})
}

func BenchmarkDecodeFrame(b *testing.B) {
	data := []byte(deliveryFrame)
	b.Run("scan", func(b *testing.B) {
		b.ReportAllocs()
		var f frame
		for b.Loop() {
			if err := decodeFrame(data, &f); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var f jsonFrame
			if err := json.Unmarshal(data, &f); err != nil {
				b.Fatal(err)
			}
		}
	})
}
