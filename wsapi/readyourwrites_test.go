package wsapi_test

import (
	"encoding/json"
	"fmt"
	"github.com/chateau/chateau/chat"
	"testing"
)

// TestServer_ReadYourWrites pipelines every read request behind every
// write request on one connection, in one TCP write: the read sees the
// write, whatever the batching.
func TestServer_ReadYourWrites(t *testing.T) {
	eachBackend(t, func(t *testing.T, l chat.Log) {
		ts := startServer(t, l)
		rc := registerRaw(t, ts, "ann")
		register(t, ts, "bob")
		rc.request(msg{"type": "GroupMessageInitRequest", "recipients": []string{"bob"}, "chatname": "room", "content": "hi"})
		if m := rc.readMsg(); m["status"] != float64(200) {
			t.Fatalf("init: %v", m)
		}
		writes := []struct {
			name  string
			req   msg
			where msg // what the history request names
		}{
			{"group message", msg{"type": "GroupMessageRequest", "chatname": "room"}, msg{"chatname": "room"}},
			{"single message", msg{"type": "SingleMessageRequest", "recipient": "bob"}, msg{"recipient": "bob"}},
			{"random message", msg{"type": "RandomMessageRequest"}, msg{"recipient": "bob"}},
			{"new chat", msg{"type": "GroupMessageInitRequest", "recipients": []string{"bob"}}, nil},
		}
		reads := []string{"HistoryRequest", "ChatListRequest", "ClientListRequest"}
		for i, w := range writes {
			for _, read := range reads {
				t.Run(w.name+" then "+read, func(t *testing.T) {
					write := msg{"content": fmt.Sprint(i, read)}
					for k, v := range w.req {
						write[k] = v
					}
					where := w.where
					if where == nil {
						chat := fmt.Sprintf("chat %d %s", i, read)
						write["chatname"], where = chat, msg{"chatname": chat}
					}
					req := msg{"type": read}
					if read == "HistoryRequest" {
						for k, v := range where {
							req[k] = v
						}
					}
					rc.write(frameOf(t, write), frameOf(t, req))
					ack := rc.readMsg()
					id, _ := ack["id"].(string)
					if ack["status"] != float64(200) || id == "" {
						t.Fatalf("write answered %v", ack)
					}
					if answer := rc.readMsg(); !sees(answer, id, where) {
						t.Fatalf("%s answered %v without %s's %s", read, answer, w.name, id)
					}
				})
			}
		}
	})
}

// frameOf is m as a client's text frame.
func frameOf(t *testing.T, m msg) []byte {
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return clientFrame(0x1, b)
}

// sees reports whether a read's answer reflects the message id stored in
// the conversation where names.
func sees(answer msg, id string, where msg) bool {
	switch answer["type"] {
	case "HistoryResponse":
		msgs, _ := answer["messages"].([]any)
		return len(msgs) > 0 && msgs[len(msgs)-1].(map[string]any)["id"] == id
	case "ChatListResponse":
		if where["chatname"] == nil {
			return true // a direct message is in no chat
		}
		chats, _ := answer["chats"].([]any)
		for _, c := range chats {
			if c := c.(map[string]any); c["chatname"] == where["chatname"] {
				return c["last_id"] == id
			}
		}
	case "ClientListResponse":
		clients, _ := answer["clients"].([]any)
		return len(clients) == 2
	}
	return false
}
