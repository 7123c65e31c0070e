package graph_test

// Helpers for the subscription tests: a websocket client that speaks both
// GraphQL websocket protocols, and a server whose WhatsApp side is a fake
// the test drives through an activation.

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"wagraph/graph"
	"wagraph/internal/account"
	"wagraph/internal/apptest"
	"wagraph/internal/auth"
	"wagraph/internal/pubsub"
	"wagraph/internal/store"
	"wagraph/internal/store/storetest"
	"wagraph/internal/supervisor"
)

// liveWS is an authenticated websocket to /graphql. Its reads are per
// operation: a message for another operation waits until that one is read.
type liveWS struct {
	t       *testing.T
	ctx     context.Context
	ws      *apptest.WS
	proto   string
	pending map[string][]apptest.Message
}

// openLive dials s, sends connection_init with token and waits for the ack.
func openLive(t *testing.T, s *apptest.Server, proto, token string) *liveWS {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	ws := mustDial(t, ctx, s, proto, nil)
	mustSend(t, ctx, ws, "connection_init", "", map[string]any{"Authorization": "Bearer " + token})
	mustRead(t, ctx, ws, "connection_ack", "ping", "ka")
	return &liveWS{t: t, ctx: ctx, ws: ws, proto: proto, pending: map[string][]apptest.Message{}}
}

// subscribe starts operation id.
func (c *liveWS) subscribe(id, query string, vars map[string]any) {
	c.t.Helper()
	typ := "subscribe"
	if c.proto == apptest.LegacyWS {
		typ = "start"
	}
	mustSend(c.t, c.ctx, c.ws, typ, id, map[string]any{"query": query, "variables": vars})
}

// stop ends operation id from the client side.
func (c *liveWS) stop(id string) {
	c.t.Helper()
	typ := "complete"
	if c.proto == apptest.LegacyWS {
		typ = "stop"
	}
	mustSend(c.t, c.ctx, c.ws, typ, id, nil)
}

// read returns operation id's next message.
func (c *liveWS) read(id string) apptest.Message {
	c.t.Helper()
	if q := c.pending[id]; len(q) > 0 {
		c.pending[id] = q[1:]
		return q[0]
	}
	for {
		m, err := c.ws.ReadSkipping(c.ctx, "ping", "pong", "ka")
		if err != nil {
			c.t.Fatalf("reading the websocket for %q: %v", id, err)
		}
		if m.ID == id {
			return m
		}
		c.pending[m.ID] = append(c.pending[m.ID], m)
	}
}

// next returns the data of operation id's next event, failing on anything
// else (an error, the end of the operation, another operation's message).
func (c *liveWS) next(id string) map[string]any {
	c.t.Helper()
	m := c.read(id)
	if m.Type != "next" && m.Type != "data" {
		c.t.Fatalf("got %s for %q: %s; want an event for %q", m.Type, m.ID, m.Payload, id)
	}
	var resp struct {
		Data   map[string]any
		Errors []apptest.GQLError
	}
	if err := json.Unmarshal(m.Payload, &resp); err != nil {
		c.t.Fatal(err)
	}
	if len(resp.Errors) > 0 {
		c.t.Fatalf("event for %q has errors: %+v", id, resp.Errors)
	}
	return resp.Data
}

// refused reads operation id's refusal: a GraphQL error, sent as an "error"
// message or as an event with errors, followed by the end of the operation.
func (c *liveWS) refused(id string) apptest.GQLError {
	c.t.Helper()
	m := c.read(id)
	var errs []apptest.GQLError
	switch m.Type {
	case "error":
		errs = apptest.Errors(c.t, m.Payload)
	case "next", "data":
		var resp struct{ Errors []apptest.GQLError }
		if err := json.Unmarshal(m.Payload, &resp); err != nil {
			c.t.Fatal(err)
		}
		errs = resp.Errors
		if end := c.read(id); end.Type != "complete" {
			c.t.Fatalf("after the refusal: %s %q %s, want complete", end.Type, end.ID, end.Payload)
		}
	default:
		c.t.Fatalf("got %s %s, want a refusal", m.Type, m.Payload)
	}
	if len(errs) != 1 {
		c.t.Fatalf("refusal of %q: %+v, want one error", id, errs)
	}
	return errs[0]
}

// completed expects operation id to end normally.
func (c *liveWS) completed(id string) {
	c.t.Helper()
	if m := c.read(id); m.Type != "complete" {
		c.t.Fatalf("got %s for %q: %s; want %q complete", m.Type, m.ID, m.Payload, id)
	}
}

// int64At reads a JSON number at path.
func int64At(t *testing.T, v any, keys ...string) int64 {
	t.Helper()
	f, ok := apptest.Path(v, keys...).(float64)
	if !ok {
		t.Fatalf("%v at %v is not a number", apptest.Path(v, keys...), keys)
	}
	return int64(f)
}

// fakeWhatsApp is the WhatsApp side of activations for these tests: a
// supervisor.Sessions that reports nothing until the test emits a session's
// events, except the first code of a pairing, which Start returns as the
// real session does.
type fakeWhatsApp struct {
	sink supervisor.EventSink
	mu   sync.Mutex
	refs map[string]account.SessionRef
}

func (f *fakeWhatsApp) Start(ctx context.Context, req supervisor.StartRequest) (account.SessionEvent, error) {
	f.mu.Lock()
	f.refs[req.AccountID] = req.SessionRef
	f.mu.Unlock()
	if req.JID != "" {
		return nil, nil
	}
	if req.Method == account.MethodPairingCode {
		return account.PairingCode{Code: "ABCD-EFGH", ExpiresAt: time.Now().Add(160 * time.Second)}, nil
	}
	return account.QRCode{Code: "qr-1", ExpiresAt: time.Now().Add(60 * time.Second)}, nil
}

func (f *fakeWhatsApp) Stop(context.Context, string) error           { return nil }
func (f *fakeWhatsApp) Logout(context.Context, string, string) error { return nil }
func (f *fakeWhatsApp) DeleteDevice(context.Context, string) error   { return nil }
func (f *fakeWhatsApp) HasDevice(context.Context, string) (bool, error) {
	return false, nil
}
func (f *fakeWhatsApp) Live(string) (account.Device, bool) { return account.Device{}, false }
func (f *fakeWhatsApp) StoredDevice(context.Context, string, string) (account.Device, error) {
	return account.Device{}, nil
}
func (f *fakeWhatsApp) Close(context.Context) error { return nil }

// emit reports evt from the account's current session.
func (f *fakeWhatsApp) emit(t *testing.T, accountID string, evt account.SessionEvent) {
	t.Helper()
	f.mu.Lock()
	ref, ok := f.refs[accountID]
	sink := f.sink
	f.mu.Unlock()
	if !ok {
		t.Fatalf("no session for account %s", accountID)
	}
	if err := sink.HandleSessionEvent(context.Background(), ref, evt); err != nil {
		t.Fatalf("session event %T: %v", evt, err)
	}
}

// fakeStack is a wagraph server with the real GraphQL handler, account
// service, database and bus, and fakeWhatsApp instead of whatsmeow.
type fakeStack struct {
	*apptest.Server
	WhatsApp *fakeWhatsApp
	Accounts *account.Service
	Auth     *auth.Service
}

func startFakeStack(t *testing.T) *fakeStack {
	t.Helper()
	db := storetest.Open(t, store.SQLite)
	bus := pubsub.NewMemory(pubsub.Options{})
	t.Cleanup(func() { _ = bus.Close() })
	wa := &fakeWhatsApp{refs: map[string]account.SessionRef{}}
	svc := account.New(db, bus, account.Options{Logger: zerolog.Nop()})
	sup := supervisor.New(svc, func(sink supervisor.EventSink) supervisor.Sessions { wa.sink = sink; return wa }, supervisor.Options{Logger: zerolog.Nop()})
	if err := sup.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sup.Close() })
	authSvc := auth.NewService(db.DB, false)
	h := graph.NewHandler(&graph.Resolver{Auth: authSvc, AccountService: svc, Supervisor: sup}, graph.HandlerOptions{
		ComplexityLimit: 1000, ParserTokenLimit: 5000, MaxMessageBytes: 1 << 20,
		InitTimeout: 5 * time.Second, KeepAlive: time.Minute, MaxSubscriptions: 10, WriteTimeout: 10 * time.Second,
		Log: zerolog.Nop(),
	})
	srv := httptest.NewServer(authSvc.Middleware(h))
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
	})
	return &fakeStack{Server: &apptest.Server{HTTP: srv, URL: srv.URL}, WhatsApp: wa, Accounts: svc, Auth: authSvc}
}

func (s *fakeStack) token(t *testing.T, role auth.Role) string {
	t.Helper()
	_, secret, err := s.Auth.Create(context.Background(), "test", role)
	if err != nil {
		t.Fatal(err)
	}
	return secret
}
