package main

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"
)

// trustedProxies are the addresses (-trusted-proxies) whose
// X-Forwarded-For the server believes, for its logs only.
type trustedProxies []netip.Prefix

// parseTrustedProxies reads a comma-separated list of IP addresses and
// CIDR prefixes.
func parseTrustedProxies(list string) (trustedProxies, error) {
	var t trustedProxies
	for _, item := range splitList(list) {
		p, err := netip.ParsePrefix(item)
		if err != nil {
			a, aerr := netip.ParseAddr(item)
			if aerr != nil {
				return nil, fmt.Errorf("%q is neither an IP address nor a CIDR prefix", item)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		t = append(t, p.Masked())
	}
	return t, nil
}

// trusts reports whether a is one of the proxies.
func (t trustedProxies) trusts(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range t {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// clientAddr is the address r's log lines name as its client: r.RemoteAddr,
// or, when that is a trusted proxy, the right-most address of
// X-Forwarded-For that is not itself trusted (each proxy appends the
// address it was connected from, so only the addresses a trusted proxy
// added can be believed; a client can write anything to their left). If
// every address there is trusted, the left-most; if an address there does
// not parse, or there is none, r.RemoteAddr.
func (t trustedProxies) clientAddr(r *http.Request) string {
	peer, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil || !t.trusts(peer.Addr()) {
		return r.RemoteAddr
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	client := r.RemoteAddr
	for i := len(hops) - 1; i >= 0; i-- {
		hop, ok := parseHop(hops[i])
		if !ok {
			return r.RemoteAddr
		}
		client = hop.String()
		if !t.trusts(hop) {
			break
		}
	}
	return client
}

// parseHop reads one address of X-Forwarded-For: an IP address, possibly
// with a port (IPv6 then in brackets), as proxies write them.
func parseHop(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), true
	}
	return netip.Addr{}, false
}
