package wsapi

import (
	"testing"

	"github.com/chateau/chateau/chat"
	"github.com/chateau/chateau/projection"
	"github.com/oklog/ulid/v2"
)

// BenchmarkRequest_GroupMessage decodes and validates a GroupMessageRequest
// and encodes the GroupMessageRecv and GroupMessageResponse it leads to:
// the per-message work outside the log and the sockets.
//
//	go test -run XXX -bench Request -benchmem ./wsapi
func BenchmarkRequest_GroupMessage(b *testing.B) {
	frame := []byte(`{"type":"GroupMessageRequest","chatname":"team","content":"a message of about the length people write in a chat, 64 bytes","messageID":"m-123456"}`)
	id := ulid.MustParse("01M8ANA9K2023SXKXQGTBYMQ6P")
	b.ReportAllocs()
	for range b.N {
		r := decodeRequest(frame, DefaultMaxContentBytes)
		if r.Err != nil || !projection.ValidChatname(r.Chatname) {
			b.Fatal(r.Err)
		}
		e := projection.Event{ID: id, Actor: "ann", RequestID: string(r.MessageID), Payload: projection.GroupMessagePosted{Chat: r.Chatname, Content: r.Content}}
		if _, err := projection.Encode(e); err != nil {
			b.Fatal(err)
		}
		_ = Encode(chat.Delivery(e, false))
		_ = Encode(chat.Ack(r, e))
	}
}
