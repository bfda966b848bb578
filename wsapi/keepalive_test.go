package wsapi_test

import (
	"testing"
	"time"

	"github.com/chateau/chateau/wsapi"
)

// TestServer_KeepAlive: any frame shows that a client is alive. A client
// that sends requests but never answers a ping stays connected; once it
// falls silent it is closed after PongWait.
func TestServer_KeepAlive(t *testing.T) {
	l, _ := mustOpenLog(t)
	const pongWait = time.Second
	ts := startServer(t, l, func(s *wsapi.Server) { s.PongWait = pongWait })
	rc := registerRaw(t, ts, "ann") // answers no ping
	var last time.Time
	for i := range 12 {
		if i > 0 {
			time.Sleep(pongWait / 4) // the client's pace, not a synchronisation
		}
		last = time.Now()
		rc.request(msg{"type": "ClientListRequest", "messageID": i})
		for {
			f := rc.readFrame()
			if f.opcode == 0x9 {
				continue // a ping, unanswered
			}
			if f.opcode != 0x1 {
				t.Fatalf("request %d, %v after the first: got opcode %#x %q", i, time.Duration(i)*pongWait/4, f.opcode, f.payload)
			}
			break
		}
	}
	if code := rc.readClose(); code != 1000 {
		t.Fatalf("close code %d, want 1000", code)
	}
	if took := time.Since(last); took < pongWait*3/4 || took > pongWait+2*time.Second {
		t.Fatalf("closed %v after the last request, want about %v", took, pongWait)
	}
}
