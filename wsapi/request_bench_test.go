package wsapi

import (
	"testing"

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
		if r.err != nil || !projection.ValidChatname(r.chatname) {
			b.Fatal(r.err)
		}
		e := projection.Event{ID: id, Actor: "ann", RequestID: string(r.messageID), Payload: projection.GroupMessagePosted{Chat: r.chatname, Content: r.content}}
		if _, err := projection.Encode(e); err != nil {
			b.Fatal(err)
		}
		_ = deliveryFrame(e, false)
		_ = ackFrame(r, e)
	}
}
