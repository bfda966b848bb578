package wsapi_test

import (
	"log/slog"
	"net/http"
	"regexp"
	"testing"

	"github.com/chateau/chateau/wsapi"
	"github.com/gorilla/websocket"
)

// TestServer_ClientAddr_Logged: "connection opened" names the client
// ClientAddr gives, and the TCP peer as proxy= when that differs.
func TestServer_ClientAddr_Logged(t *testing.T) {
	l, _ := mustOpenLog(t)
	logs := &logBuffer{changed: make(chan struct{}, 1)}
	ts := startServer(t, l, func(s *wsapi.Server) {
		s.Logger = slog.New(slog.NewTextHandler(logs, nil))
		s.ClientAddr = func(r *http.Request) string {
			if client := r.Header.Get("X-Test-Client"); client != "" {
				return client
			}
			return r.RemoteAddr
		}
	})
	for _, client := range []string{"203.0.113.9", ""} { // "": no header
		h := http.Header{}
		if client != "" {
			h.Set("X-Test-Client", client)
		}
		ws, _, err := websocket.DefaultDialer.Dial(ts.url, h)
		if err != nil {
			t.Fatal(err)
		}
		defer ws.Close()
		want := regexp.QuoteMeta(ws.LocalAddr().String())
		if client != "" {
			want = regexp.QuoteMeta(client) + " proxy=" + want
		}
		logs.await(t, `msg="connection opened" conn=\d+ remote=`+want+"\n")
	}
}
