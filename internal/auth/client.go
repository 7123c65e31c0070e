package auth

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// ClientAddresses finds the address a request comes from, which the Guard
// counts failures by. Without trusted proxies it is the connection's peer.
// When the peer is a trusted proxy, X-Forwarded-For is read from the right,
// skipping trusted proxies, and the first other address is the client: the
// entries to its left were written by the client itself and prove nothing.
type ClientAddresses struct {
	trusted []netip.Prefix
}

// ParseTrustedProxies reads proxy addresses and networks (10.0.0.0/8,
// 192.168.1.7, fd00::/8), as TRUSTED_PROXIES lists them.
func ParseTrustedProxies(list []string) (ClientAddresses, error) {
	var c ClientAddresses
	for _, s := range list {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if p, err := netip.ParsePrefix(s); err == nil {
			c.trusted = append(c.trusted, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return ClientAddresses{}, fmt.Errorf("%q is not an IP address or network such as 10.0.0.0/8", s)
		}
		a = a.Unmap()
		c.trusted = append(c.trusted, netip.PrefixFrom(a, a.BitLen()))
	}
	return c, nil
}

// Of returns the client key of r: its IPv4 address, or the /64 network of
// its IPv6 address (one host usually has a whole /64 to pick from).
func (c ClientAddresses) Of(r *http.Request) string {
	peer, ok := parseHostPort(r.RemoteAddr)
	if !ok {
		return r.RemoteAddr // not an IP (a unix socket, a test): use it as is
	}
	client := peer
	if c.isTrusted(peer) {
		hops := forwardedFor(r.Header)
		for i := len(hops) - 1; i >= 0; i-- {
			client = hops[i]
			if !c.isTrusted(hops[i]) {
				break
			}
		}
	}
	return key(client)
}

func (c ClientAddresses) isTrusted(a netip.Addr) bool {
	for _, p := range c.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// forwardedFor returns the addresses of every X-Forwarded-For header, left
// to right; it stops at the first entry that is not an address, since what
// is left of it cannot be trusted either.
func forwardedFor(h http.Header) []netip.Addr {
	var out []netip.Addr
	for _, line := range h.Values("X-Forwarded-For") {
		for _, part := range strings.Split(line, ",") {
			a, ok := parseHostPort(strings.TrimSpace(part))
			if !ok {
				out = out[:0]
				continue
			}
			out = append(out, a)
		}
	}
	return out
}

// parseHostPort reads "1.2.3.4", "1.2.3.4:5", "[::1]:5" or "::1".
func parseHostPort(s string) (netip.Addr, bool) {
	if host, _, err := net.SplitHostPort(s); err == nil {
		s = host
	}
	a, err := netip.ParseAddr(strings.Trim(s, "[]"))
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap().WithZone(""), true
}

func key(a netip.Addr) string {
	if a.Is4() {
		return a.String()
	}
	p, _ := a.Prefix(64)
	return p.String()
}

type clientKey struct{}

// WithClient returns ctx carrying the client key of the request it serves.
func WithClient(ctx context.Context, client string) context.Context {
	return context.WithValue(ctx, clientKey{}, client)
}

// ClientFromContext returns the client key recorded by the middleware, or "".
func ClientFromContext(ctx context.Context) string {
	c, _ := ctx.Value(clientKey{}).(string)
	return c
}
