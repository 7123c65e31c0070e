package config

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"unicode"
)

// simulate reads SIMULATE: a boolean for the in-process simulator, or the
// address of a shared one (`wagraph simulator`), returned as its URL.
func (p parser) simulate(key string) (inProcess bool, url string) {
	v := p.env(key)
	if b, err := strconv.ParseBool(v); err == nil {
		return b, ""
	}
	// An address has a port; a word without one is a mistyped boolean.
	if !strings.Contains(v, ":") || strings.IndexFunc(v, unicode.IsSpace) >= 0 {
		*p.errs = append(*p.errs, fmt.Errorf("%s=%q: use true, false, or the address of a running simulator (`wagraph simulator`), e.g. 127.0.0.1:7900", key, v))
		return false, ""
	}
	u, err := SimulatorURL(v)
	if err != nil {
		*p.errs = append(*p.errs, fmt.Errorf("%s: %w", key, err))
		return false, ""
	}
	return false, u
}

// SimulatorURL turns a simulator address as SIMULATE takes it, host:port or
// http://host:port, into the base URL of its control API.
func SimulatorURL(addr string) (string, error) {
	addr = strings.TrimSpace(addr)
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	u, err := url.Parse(addr)
	if err != nil || u.Scheme != "http" || u.Hostname() == "" || u.Port() == "" || (u.Path != "" && u.Path != "/") ||
		u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", fmt.Errorf("%q is not a simulator address; use host:port or http://host:port, e.g. 127.0.0.1:7900", strings.TrimPrefix(addr, "http://"))
	}
	if _, err := strconv.ParseUint(u.Port(), 10, 16); err != nil {
		return "", fmt.Errorf("%q: the port must be a number up to 65535", strings.TrimPrefix(addr, "http://"))
	}
	return "http://" + u.Host, nil
}
