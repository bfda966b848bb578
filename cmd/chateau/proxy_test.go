package main

import (
	"net/http"
	"testing"
)

func TestTrustedProxies_ClientAddr(t *testing.T) {
	proxies, err := parseTrustedProxies("10.0.0.0/8, 127.0.0.1,::1,2001:db8::/32")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, peer string
		xff        []string // X-Forwarded-For header lines
		want       string
	}{
		{"untrusted peer's header is ignored", "192.0.2.1:4000", []string{"203.0.113.9"}, "192.0.2.1:4000"},
		{"trusted peer without header", "127.0.0.1:4000", nil, "127.0.0.1:4000"},
		{"trusted peer", "127.0.0.1:4000", []string{"203.0.113.9"}, "203.0.113.9"},
		{"right-most untrusted wins over a forged left", "127.0.0.1:4000", []string{"198.51.100.1, 203.0.113.9"}, "203.0.113.9"},
		{"trusted hops are skipped", "127.0.0.1:4000", []string{"198.51.100.1, 203.0.113.9, 10.1.2.3"}, "203.0.113.9"},
		{"header lines join", "127.0.0.1:4000", []string{"198.51.100.1", "203.0.113.9,10.1.2.3"}, "203.0.113.9"},
		{"every hop trusted: the left-most", "127.0.0.1:4000", []string{"10.9.9.9, 10.1.2.3"}, "10.9.9.9"},
		{"a hop with a port", "127.0.0.1:4000", []string{"203.0.113.9:5555"}, "203.0.113.9"},
		{"IPv6 peer and hop", "[::1]:4000", []string{"[2001:db8::1]:80, 2001:db9::7"}, "2001:db9::7"},
		{"IPv4-mapped peer", "[::ffff:127.0.0.1]:4000", []string{"203.0.113.9"}, "203.0.113.9"},
		{"unparsable right-most hop", "127.0.0.1:4000", []string{"203.0.113.9, unknown"}, "127.0.0.1:4000"},
		{"unparsable hop behind trusted ones", "127.0.0.1:4000", []string{"bogus, 10.1.2.3"}, "127.0.0.1:4000"},
		{"empty header", "127.0.0.1:4000", []string{""}, "127.0.0.1:4000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &http.Request{RemoteAddr: tt.peer, Header: http.Header{"X-Forwarded-For": tt.xff}}
			if got := proxies.clientAddr(r); got != tt.want {
				t.Errorf("clientAddr = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseTrustedProxies_Bad(t *testing.T) {
	for _, list := range []string{"nope", "10.0.0.0/33", "10.0.0.1,,300.1.1.1", "localhost"} {
		if _, err := parseTrustedProxies(list); err == nil {
			t.Errorf("parseTrustedProxies(%q) succeeded", list)
		}
	}
}
