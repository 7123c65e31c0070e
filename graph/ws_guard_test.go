package graph_test

// What the websocket guard adds to gqlgen's transport: sockets that always
// close, the close codes graphql-transport-ws defines, and revocation.

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/99designs/gqlgen/client"
	"github.com/coder/websocket"

	"wagraph/internal/apptest"
	"wagraph/internal/auth"
)

const liveStatus = `subscription { accountStatusChanged { accountId } }`

// longID is a subscription id too long for a close reason, cut inside a rune.
var longID = strings.Repeat("é", 100)

// wantClose reads until the server closes ws and checks code and reason.
func wantClose(t *testing.T, ctx context.Context, ws *apptest.WS, code websocket.StatusCode, reason string) []apptest.Message {
	t.Helper()
	got, gotReason, seen := ws.ReadUntilClosed(ctx)
	if got != code || !strings.Contains(gotReason, reason) {
		t.Fatalf("closed with %d %q after %v, want %d %q", got, gotReason, seen, code, reason)
	}
	return seen
}

// sendRaw writes one websocket text message as is.
func sendRaw(t *testing.T, ctx context.Context, ws *apptest.WS, msg string) {
	t.Helper()
	if err := ws.Conn.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
		t.Fatalf("send %s: %v", msg, err)
	}
}

// A connection_init whose payload is not an object was never answered and
// its socket never closed (gqlgen returns without closing when the payload
// does not parse). Now it is closed at once with 4400 on both protocols; on
// the legacy protocol a connection_error says why first.
func TestWebsocketNonObjectInitPayloadCloses(t *testing.T) {
	s := apptest.Start(t, apptest.Env{"WS_INIT_TIMEOUT": "1h"})
	for _, proto := range []string{apptest.TransportWS, apptest.LegacyWS} {
		for name, payload := range map[string]string{"number": `5`, "array": `[]`, "string": `"Bearer x"`, "bool": `true`} {
			t.Run(proto+"/"+name, func(t *testing.T) {
				ctx := wsCtx(t)
				ws := mustDial(t, ctx, s, proto, nil)
				sendRaw(t, ctx, ws, `{"type":"connection_init","payload":`+payload+`}`)
				seen := wantClose(t, ctx, ws, 4400, "payload must be an object")
				if proto == apptest.LegacyWS && (len(seen) != 1 || seen[0].Type != "connection_error") {
					t.Errorf("legacy protocol saw %v before the close, want one connection_error", seen)
				}
			})
		}
	}
}

// Every client message is checked against graphql-transport-ws; a violation
// closes the socket with the code the protocol defines for it.
func TestTransportWSProtocolViolations(t *testing.T) {
	s := apptest.Start(t, nil)
	tok := s.Token(t, auth.Viewer)
	init := `{"type":"connection_init","payload":{"Authorization":"` + tok + `"}}`
	tests := []struct {
		name     string
		init     bool     // send connection_init and wait for the ack first
		messages []string // then these
		code     websocket.StatusCode
		reason   string
	}{
		{"not JSON", false, []string{`{"type":`}, 4400, "Invalid message"},
		{"not an object", false, []string{`[1,2]`}, 4400, "Invalid message"},
		{"no type", true, []string{`{"id":"1"}`}, 4400, "Invalid message"},
		{"unknown type", true, []string{`{"type":"start","id":"1","payload":{"query":"{ health { status } }"}}`}, 4400, `unknown type "start"`},
		{"server message from the client", true, []string{`{"type":"next","id":"1","payload":{}}`}, 4400, `unknown type "next"`},
		{"subscribe before connection_init", false, []string{`{"type":"subscribe","id":"1","payload":{"query":"{ health { status } }"}}`}, 4401, "Unauthorized"},
		{"subscribe without an id", true, []string{`{"type":"subscribe","payload":{"query":"{ health { status } }"}}`}, 4400, "needs an id"},
		{"subscribe without a payload", true, []string{`{"type":"subscribe","id":"1"}`}, 4400, `"query" string`},
		{"subscribe with a payload that is no object", true, []string{`{"type":"subscribe","id":"1","payload":"{ health { status } }"}`}, 4400, `"query" string`},
		{"subscribe without a query", true, []string{`{"type":"subscribe","id":"1","payload":{"variables":{}}}`}, 4400, `"query" string`},
		{"subscribe with variables that are no object", true, []string{`{"type":"subscribe","id":"1","payload":{"query":"{ health { status } }","variables":"x"}}`}, 4400, `"query" string`},
		{"subscribe with an operationName that is no string", true, []string{`{"type":"subscribe","id":"1","payload":{"query":"{ health { status } }","operationName":1}}`}, 4400, `"query" string`},
		{"complete without an id", true, []string{`{"type":"complete"}`}, 4400, "needs an id"},
		{"ping with a payload that is no object", true, []string{`{"type":"ping","payload":7}`}, 4400, "payload must be an object"},
		{"second connection_init", true, []string{init}, 4429, "Too many initialisation requests"},
		{"duplicate subscription id", true, []string{
			`{"type":"subscribe","id":"live","payload":{"query":"` + liveStatus + `"}}`,
			`{"type":"subscribe","id":"live","payload":{"query":"` + liveStatus + `"}}`,
		}, 4409, "Subscriber for live already exists"},
		{"duplicate long subscription id", true, []string{
			`{"type":"subscribe","id":"` + longID + `","payload":{"query":"` + liveStatus + `"}}`,
			`{"type":"subscribe","id":"` + longID + `","payload":{"query":"` + liveStatus + `"}}`,
		}, 4409, "Subscriber for ééé"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := wsCtx(t)
			ws := mustDial(t, ctx, s, apptest.TransportWS, nil)
			if tt.init {
				sendRaw(t, ctx, ws, init)
				mustRead(t, ctx, ws, "connection_ack", "ping")
			}
			for _, m := range tt.messages {
				sendRaw(t, ctx, ws, m)
			}
			wantClose(t, ctx, ws, tt.code, tt.reason)
		})
	}
}

// An id may be used again once its operation completed, whether the server
// or the client completed it.
func TestTransportWSReusesCompletedIDs(t *testing.T) {
	s := apptest.Start(t, nil)
	ctx := wsCtx(t)
	ws := mustDial(t, ctx, s, apptest.TransportWS, nil)
	mustSend(t, ctx, ws, "connection_init", "", map[string]any{"Authorization": s.Token(t, auth.Viewer)})
	mustRead(t, ctx, ws, "connection_ack", "ping")
	for range 3 {
		mustSend(t, ctx, ws, "subscribe", "q", map[string]any{"query": "{ viewer { role } }"})
		mustRead(t, ctx, ws, "next", "ping")
		mustRead(t, ctx, ws, "complete", "ping")
	}
	// An operation that fails frees its id too.
	for range 2 {
		mustSend(t, ctx, ws, "subscribe", "bad", map[string]any{"query": `subscription { nope }`})
		readUntil(t, ctx, ws, "error", "bad")
		readUntil(t, ctx, ws, "complete", "bad")
	}
	mustSend(t, ctx, ws, "subscribe", "live", map[string]any{"query": liveStatus})
	mustSend(t, ctx, ws, "complete", "live", nil)
	mustSend(t, ctx, ws, "subscribe", "live", map[string]any{"query": liveStatus})
	mustSend(t, ctx, ws, "subscribe", "after", map[string]any{"query": "{ viewer { role } }"})
	readUntil(t, ctx, ws, "next", "after")
}

// readUntil reads until a message of type typ for id, failing on a close.
func readUntil(t *testing.T, ctx context.Context, ws *apptest.WS, typ, id string) apptest.Message {
	t.Helper()
	for {
		m, err := ws.Read(ctx)
		if err != nil {
			t.Fatalf("waiting for %s %s: %v", typ, id, err)
		}
		if m.Type == typ && m.ID == id {
			return m
		}
	}
}

// The legacy protocol has no close code for a start without a query: that
// operation gets a coded error and the connection goes on.
func TestLegacyStartWithoutPayload(t *testing.T) {
	s := apptest.Start(t, nil)
	ctx := wsCtx(t)
	ws := mustDial(t, ctx, s, apptest.LegacyWS, nil)
	mustSend(t, ctx, ws, "connection_init", "", map[string]any{"authToken": s.Token(t, auth.Viewer)})
	mustRead(t, ctx, ws, "connection_ack")
	sendRaw(t, ctx, ws, `{"type":"start","id":"1"}`)
	m := mustRead(t, ctx, ws, "error", "ka")
	errs := apptest.Errors(t, m.Payload)
	if m.ID != "1" || len(errs) != 1 || errs[0].Code() != "INVALID_INPUT" || errs[0].Suggestion() == "" {
		t.Fatalf("start without payload: %s %s, want one INVALID_INPUT error with a suggestion", m.ID, m.Payload)
	}
	mustRead(t, ctx, ws, "complete", "ka")
	mustSend(t, ctx, ws, "start", "2", map[string]any{"query": "{ viewer { role } }"})
	if m := mustRead(t, ctx, ws, "data", "ka"); m.ID != "2" {
		t.Errorf("the connection is not usable after the refused start: %s", m.ID)
	}
}

// Revoking a token closes its websockets with 4401 "token revoked" and ends
// their subscriptions; nothing sent on them afterwards runs.
func TestRevocationClosesWebsockets(t *testing.T) {
	s := apptest.Start(t, nil)
	admin := s.Client(apptest.Bearer(s.Token(t, auth.Admin)))
	for _, proto := range []string{apptest.TransportWS, apptest.LegacyWS} {
		t.Run(proto, func(t *testing.T) {
			ctx := wsCtx(t)
			tok, secret, err := s.App.Auth.Create(ctx, "doomed", auth.Admin)
			if err != nil {
				t.Fatal(err)
			}
			ws := mustDial(t, ctx, s, proto, nil)
			other := mustDial(t, ctx, s, proto, nil) // another token's socket stays
			mustSend(t, ctx, ws, "connection_init", "", map[string]any{"Authorization": secret})
			mustSend(t, ctx, other, "connection_init", "", map[string]any{"Authorization": s.Token(t, auth.Viewer)})
			start, data := "subscribe", "next"
			if proto == apptest.LegacyWS {
				start, data = "start", "data"
			}
			for _, c := range []*apptest.WS{ws, other} {
				mustRead(t, ctx, c, "connection_ack", "ping", "ka")
				mustSend(t, ctx, c, start, "live", map[string]any{"query": liveStatus})
				mustSend(t, ctx, c, start, "q", map[string]any{"query": "{ viewer { role } }"})
				readUntil(t, ctx, c, data, "q")
			}

			apptest.Post(t, admin, `mutation($id: ID!) { revokeApiToken(input: {id: $id}) { apiToken { id } } }`, client.Var("id", tok.ID)).NoErrors(t)
			// Sent after revokeApiToken returned: it must not run.
			mustSend(t, ctx, ws, start, "m", map[string]any{"query": `mutation { createApiToken(input: {name: "after-revocation", role: VIEWER}) { token } }`})
			closeCtx, cancel := context.WithTimeout(ctx, time.Second)
			defer cancel()
			seen := wantClose(t, closeCtx, ws, 4401, "token revoked")
			for _, m := range seen {
				if m.ID == "m" && m.Type == data && !strings.Contains(string(m.Payload), "UNAUTHENTICATED") {
					t.Errorf("the mutation sent after the revocation answered %s", m.Payload)
				}
			}
			tokens := apptest.Post(t, admin, `{ apiTokens { name } }`).NoErrors(t)
			if b, _ := json.Marshal(tokens); strings.Contains(string(b), "after-revocation") {
				t.Errorf("the mutation sent after the revocation ran: %s", b)
			}

			// The other token's socket still works.
			mustSend(t, ctx, other, start, "q2", map[string]any{"query": "{ viewer { role } }"})
			readUntil(t, ctx, other, data, "q2")
			if n := s.App.Auth.TrackedConnections(); n != 1 {
				t.Errorf("%d websockets tracked, want the other one", n)
			}
		})
	}
}

// An operation on a websocket whose token was revoked where the
// announcement never arrived (another instance revoked it; the bus lost the
// event) is refused, and the socket closes.
func TestRevokedTokenRefusedWithoutAnnouncement(t *testing.T) {
	s := apptest.Start(t, nil)
	ctx := wsCtx(t)
	tok, secret, err := s.App.Auth.Create(ctx, "doomed", auth.Admin)
	if err != nil {
		t.Fatal(err)
	}
	ws := mustDial(t, ctx, s, apptest.TransportWS, nil)
	mustSend(t, ctx, ws, "connection_init", "", map[string]any{"Authorization": secret})
	mustRead(t, ctx, ws, "connection_ack", "ping")
	elsewhere := auth.NewService(s.App.DB.DB, false) // an instance this one does not hear
	if _, err := elsewhere.Revoke(ctx, tok.ID); err != nil {
		t.Fatal(err)
	}
	mustSend(t, ctx, ws, "subscribe", "m", map[string]any{"query": `mutation { createApiToken(input: {name: "after-revocation", role: VIEWER}) { token } }`})
	seen := wantClose(t, ctx, ws, 4401, "token revoked")
	for _, m := range seen { // the refusal may arrive before the close, or not at all
		if m.ID == "m" && m.Type == "next" && !strings.Contains(string(m.Payload), `"code":"UNAUTHENTICATED"`) {
			t.Errorf("the mutation answered %s, want UNAUTHENTICATED", m.Payload)
		}
	}
	tokens, err := s.App.Auth.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, tk := range tokens {
		if tk.Name == "after-revocation" {
			t.Error("the mutation ran on a revoked token's websocket")
		}
	}
}

// graphql-transport-ws allows pings before connection_init; they are
// answered, but do not keep an unauthenticated socket open past
// WS_INIT_TIMEOUT.
func TestTransportWSPingsBeforeInit(t *testing.T) {
	s := apptest.Start(t, apptest.Env{"WS_INIT_TIMEOUT": "300ms"})
	t.Run("answered", func(t *testing.T) {
		ctx := wsCtx(t)
		ws := mustDial(t, ctx, s, apptest.TransportWS, nil)
		mustSend(t, ctx, ws, "ping", "", nil)
		mustRead(t, ctx, ws, "pong")
		mustSend(t, ctx, ws, "pong", "", nil) // unsolicited pongs are allowed too
		mustSend(t, ctx, ws, "connection_init", "", map[string]any{"Authorization": s.Token(t, auth.Viewer)})
		mustRead(t, ctx, ws, "connection_ack", "ping")
	})
	t.Run("no way around the deadline", func(t *testing.T) {
		ctx := wsCtx(t)
		ws := mustDial(t, ctx, s, apptest.TransportWS, nil)
		start := time.Now()
		for {
			mustSend(t, ctx, ws, "ping", "", nil)
			m, err := ws.Read(ctx)
			if code := websocket.CloseStatus(err); code != -1 {
				if code != 4408 {
					t.Fatalf("closed with %d (%v), want 4408", code, err)
				}
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if m.Type != "pong" {
				t.Fatalf("got %s, want pong", m.Type)
			}
		}
		t.Logf("closed %v after connecting", time.Since(start))
	})
}
