package graph

import (
	"slices"
	"testing"

	"github.com/coder/websocket"
)

// FuzzClientMessage feeds arbitrary client messages to the protocol check
// of both protocols, before and after authentication: it never panics, and
// a violation closes with a code graphql-transport-ws defines or answers
// without closing.
func FuzzClientMessage(f *testing.F) {
	for _, seed := range []string{
		`{"type":"connection_init","payload":{"Authorization":"Bearer x"}}`,
		`{"type":"connection_init","payload":5}`,
		`{"type":"connection_init","payload":[]}`,
		`{"type":"connection_init","payload":"x"}`,
		`{"type":"subscribe","id":"1","payload":{"query":"{ health { status } }","variables":null}}`,
		`{"type":"subscribe","id":"1"}`,
		`{"type":"subscribe","payload":{"query":"x"}}`,
		`{"type":"start","id":"1"}`,
		`{"type":"complete","id":"1"}`,
		`{"type":"ping","payload":7}`,
		`{"type":"next","id":"1","payload":{}}`,
		`{"type":5}`, `[]`, `null`, `{`, ``, "\x00",
	} {
		f.Add(seed, false, false)
		f.Add(seed, true, true)
	}
	allowed := []websocket.StatusCode{0, closeBadRequest, closeUnauthorized, closeSubscriberExists, closeTooManyInitRequests}
	f.Fuzz(func(t *testing.T, msg string, legacy, authed bool) {
		c := &guardedConn{legacy: legacy, authed: authed, active: map[string]struct{}{}}
		for range 2 { // the second time sees the state the first left
			v := c.check([]byte(msg))
			if v == nil {
				continue
			}
			if !slices.Contains(allowed, v.code) {
				t.Fatalf("%q: close code %d", msg, v.code)
			}
			// Only an unsolicited pong before connection_init is dropped
			// without a word.
			if v.code == 0 && v.reply == nil && (legacy || authed) {
				t.Fatalf("%q: a violation that neither closes nor answers", msg)
			}
		}
	})
}
