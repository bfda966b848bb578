package wsapi_test

import (
	"net/http"
	"testing"
)

// TestServer_Handshake: RFC 6455 4.2.1 and 4.2.2, where gorilla is lax.
func TestServer_Handshake(t *testing.T) {
	l, _ := mustOpenLog(t)
	ts := startServer(t, l)
	tests := []struct {
		proto, version string
		want           int
		wantVersion    string // the Sec-WebSocket-Version answered
	}{
		{"HTTP/1.1", "13", http.StatusSwitchingProtocols, ""},
		{"HTTP/1.1", "8, 13", http.StatusSwitchingProtocols, ""},
		{"HTTP/1.0", "13", http.StatusBadRequest, ""},
		{"HTTP/1.1", "8", http.StatusUpgradeRequired, "13"},
		{"HTTP/1.1", "", http.StatusUpgradeRequired, "13"},
	}
	for _, tt := range tests {
		t.Run(tt.proto+" version "+tt.version, func(t *testing.T) {
			_, resp := handshakeRaw(t, ts, tt.proto, tt.version)
			if resp.StatusCode != tt.want {
				t.Fatalf("status %s, want %d", resp.Status, tt.want)
			}
			if got := resp.Header.Get("Sec-WebSocket-Version"); got != tt.wantVersion {
				t.Fatalf("Sec-WebSocket-Version %q, want %q", got, tt.wantVersion)
			}
		})
	}
}
