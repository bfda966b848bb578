package wsapi

import (
	"net/http"
	"net/url"
	"strings"
)

// OriginPolicy returns a websocket.Upgrader CheckOrigin function. It admits
// requests without an Origin header (command-line clients send none), from
// the server's own host, or from one of allowed (full origins such as
// "https://chat.example.com", compared without case); "*" admits every
// origin. Browsers on other origins are refused with 403.
func OriginPolicy(allowed []string) func(r *http.Request) bool {
	set := make(map[string]bool, len(allowed))
	for _, o := range allowed {
		set[strings.ToLower(strings.TrimRight(o, "/"))] = true
	}
	return func(r *http.Request) bool {
		origin := r.Header.Get("Origin")
		if origin == "" || set["*"] || set[strings.ToLower(origin)] {
			return true
		}
		u, err := url.Parse(origin)
		return err == nil && strings.EqualFold(u.Host, r.Host)
	}
}
