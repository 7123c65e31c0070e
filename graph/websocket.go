package graph

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/coder/websocket"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"wagraph/internal/apperr"
	"wagraph/internal/auth"
)

// SubscriptionMetrics observes websockets and subscriptions.
type SubscriptionMetrics interface {
	ConnectionOpened()
	ConnectionClosed()
	SubscriptionStarted(kind string)
	SubscriptionEnded(kind string)
	EventDelivered(kind string)
	// SubscriptionFailed counts a subscription the server ended with an
	// error (code), e.g. SUBSCRIBER_TOO_SLOW.
	SubscriptionFailed(kind, code string)
}

type noMetrics struct{}

func (noMetrics) ConnectionOpened()                 {}
func (noMetrics) ConnectionClosed()                 {}
func (noMetrics) SubscriptionStarted(string)        {}
func (noMetrics) SubscriptionEnded(string)          {}
func (noMetrics) EventDelivered(string)             {}
func (noMetrics) SubscriptionFailed(string, string) {}

// connState is one authenticated websocket connection.
type connState struct {
	subs atomic.Int32
	open atomic.Bool
	// ended is set when the connection's token is revoked.
	ended atomic.Bool
}

type connStateKey struct{}

func withConnState(ctx context.Context) (context.Context, *connState) {
	st := &connState{}
	st.open.Store(true)
	return context.WithValue(ctx, connStateKey{}, st), st
}

func connStateFrom(ctx context.Context) *connState {
	st, _ := ctx.Value(connStateKey{}).(*connState)
	return st
}

// limitSubscriptions refuses subscriptions outside a websocket, caps
// concurrent subscriptions per websocket, and counts them by kind (the root
// field), with their events and failures. It also serves each subscription
// whose resolver opened a live stream (see subscribe): its response handler
// pulls the stream and shares responses between subscribers with the same
// query.
func limitSubscriptions(maxPerConn int, m SubscriptionMetrics) graphql.OperationMiddleware {
	return func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
		oc := graphql.GetOperationContext(ctx)
		if oc.Operation == nil || oc.Operation.Operation != ast.Subscription {
			return next(ctx)
		}
		kind := "unknown"
		if fields := graphql.CollectFields(oc, oc.Operation.SelectionSet, nil); len(fields) > 0 {
			kind = fields[0].Name
		}
		conn := connStateFrom(ctx)
		if conn == nil {
			// Over plain HTTP a subscription could send its snapshot at most,
			// and could not be told apart from a client that stopped reading.
			err := apperr.New(apperr.InvalidInput, "subscriptions need a websocket").
				WithSuggestion("Open a websocket to /graphql with the graphql-transport-ws protocol (GraphiQL does this for subscriptions), send the token in connection_init, then subscribe.")
			return graphql.OneShot(&graphql.Response{Errors: gqlerror.List{presentError(ctx, err)}})
		}
		if int(conn.subs.Add(1)) > maxPerConn {
			conn.subs.Add(-1)
			err := apperr.Newf(apperr.SubscriptionLimit, "this connection already has %d subscriptions, the most allowed", maxPerConn)
			return graphql.OneShot(&graphql.Response{Errors: gqlerror.List{presentError(ctx, err)}})
		}
		m.SubscriptionStarted(kind)
		sub := &subscriptionState{query: queryOf(ctx, oc)}
		var once sync.Once
		ended := func() {
			once.Do(func() {
				conn.subs.Add(-1)
				m.SubscriptionEnded(kind)
				if sub.failure != "" {
					m.SubscriptionFailed(kind, sub.failure)
				}
			})
		}
		delivered := func() { m.EventDelivered(kind) }
		responses := next(context.WithValue(ctx, subscriptionStateKey{}, sub))
		return func(ctx context.Context) *graphql.Response {
			if sub.stream != nil {
				return sub.respond(ctx, responses, delivered, ended)
			}
			// The resolver failed (its error is this response), or the
			// operation was refused before it ran.
			return counted(responses(ctx), delivered, ended)
		}
	}
}

// The websocket close codes wagraph sends. graphql-transport-ws defines 4400,
// 4401, 4408, 4409 and 4429 (its PROTOCOL.md); the legacy graphql-ws defines
// none, and gets the same codes where gqlgen does not choose one.
const (
	closeBadRequest          = 4400 // a malformed or unexpected message
	closeUnauthorized        = 4401 // no, a bad or a revoked token
	closeInitTimeout         = 4408 // no connection_init in time
	closeSubscriberExists    = 4409 // a subscribe reused an active id
	closeTooManyInitRequests = 4429 // a second connection_init
	// closeReasonLimit is the most a close frame's reason may hold, in bytes.
	closeReasonLimit = 123
)

// revokedReason is the close reason of a websocket whose token was revoked.
const revokedReason = "token revoked"

const (
	transportWSProtocol     = "graphql-transport-ws"
	gqlgenInitTimeoutReason = "connection initialisation timeout"
)

// guardedTransport is gqlgen's websocket transport with what it lacks:
// every socket is closed when the transport is done with it (gqlgen returns
// without closing after a connection_init payload it cannot parse, leaving
// the socket open for good), and each socket carries its connection to
// InitFunc (see socket).
type guardedTransport struct {
	transport.Websocket
}

// Do serves one websocket.
func (t guardedTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	s := &socket{}
	t.Websocket.Do(w, r.WithContext(context.WithValue(r.Context(), socketKey{}, s)), exec)
	s.finish()
}

// socket is one websocket from upgrade to close: the connection Accept
// made, and what InitFunc registered for it.
type socket struct {
	mu   sync.Mutex
	conn *guardedConn
	// release stops tracking the connection and cancels its context.
	release func()
}

type socketKey struct{}

func socketFrom(ctx context.Context) *socket {
	s, _ := ctx.Value(socketKey{}).(*socket)
	return s
}

func (s *socket) setConn(c *guardedConn) {
	s.mu.Lock()
	s.conn = c
	s.mu.Unlock()
}

func (s *socket) connection() *guardedConn {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conn
}

func (s *socket) setRelease(f func()) {
	s.mu.Lock()
	s.release = f
	s.mu.Unlock()
}

// finish runs when the transport returns: the socket is closed whatever
// state gqlgen left it in (a no-op when it already closed it).
func (s *socket) finish() {
	s.mu.Lock()
	c, release := s.conn, s.release
	s.mu.Unlock()
	if release != nil {
		release()
	}
	if c != nil {
		c.closeWith(websocket.StatusInternalError, "connection ended")
	}
}

// connectionAuth authenticates connection_init and tracks the connection by
// its token, so revoking the token ends it.
type connectionAuth interface {
	AuthenticateInit(ctx context.Context, payload map[string]any) (context.Context, error)
	TrackConnection(tokenID string, end func()) (untrack func())
	CheckActive(ctx context.Context, tokenID string) error
	EndConnections(tokenID string) int
}

// initConnection is the websocket InitFunc: it authenticates the
// connection_init payload, ends the socket's authentication deadline, and
// tracks the connection by token. When the token is revoked the connection
// refuses every further operation, closes with 4401 "token revoked", and its
// subscriptions end.
func initConnection(a connectionAuth, metrics SubscriptionMetrics) transport.WebsocketInitFunc {
	return func(ctx context.Context, payload transport.InitPayload) (context.Context, *transport.InitPayload, error) {
		authed, err := a.AuthenticateInit(ctx, payload)
		if err != nil {
			return initFailure(ctx, err)
		}
		sock := socketFrom(ctx)
		if sock == nil || sock.connection() == nil {
			return initFailure(ctx, errors.New("websocket: connection_init outside guardedTransport"))
		}
		conn := sock.connection()
		if !conn.authenticated() {
			// The deadline passed while the token was being checked.
			return initFailure(ctx, apperr.New(apperr.Unauthenticated, "connection_init came too late"))
		}
		authed, cancel := context.WithCancel(authed)
		authed, st := withConnState(authed)
		untrack := func() {}
		if p, ok := auth.FromContext(authed); ok && p.TokenID != "" {
			untrack = a.TrackConnection(p.TokenID, func() {
				st.ended.Store(true)
				conn.closeWith(closeUnauthorized, revokedReason)
				cancel()
			})
		}
		sock.setRelease(func() {
			untrack()
			cancel()
		})
		metrics.ConnectionOpened()
		return authed, nil, nil
	}
}

// refuseEndedConnections refuses every operation on a websocket whose token
// was revoked: it checks the token before each operation, so none runs once
// the revocation is committed, even before its announcement arrived (and
// then ends the token's websockets here at once).
func refuseEndedConnections(a connectionAuth) graphql.OperationMiddleware {
	return func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
		st := connStateFrom(ctx)
		if st == nil {
			return next(ctx)
		}
		var err error
		if p, ok := auth.FromContext(ctx); ok && p.TokenID != "" && !st.ended.Load() {
			if err = a.CheckActive(ctx, p.TokenID); apperr.CodeOf(err) == apperr.Unauthenticated {
				a.EndConnections(p.TokenID)
			}
		}
		if st.ended.Load() {
			err = apperr.New(apperr.Unauthenticated, "the API token of this websocket was revoked").
				WithSuggestion("Ask an ADMIN for a new token and open a new websocket with it.")
		}
		if err != nil {
			return graphql.OneShot(&graphql.Response{Errors: gqlerror.List{presentError(ctx, err)}})
		}
		return next(ctx)
	}
}

// guardedWebsockets wraps an implementation so that each connection is
// guarded (see guardedConn).
type guardedWebsockets struct {
	inner        transport.WebsocketImplementation
	writeTimeout time.Duration
	// initTimeout is the hard deadline for a connection to authenticate.
	initTimeout time.Duration
}

func (g guardedWebsockets) Accept(w http.ResponseWriter, r *http.Request, o transport.WebsocketAcceptOptions) (transport.WebsocketConn, error) {
	c, err := g.inner.Accept(w, r, o)
	if err != nil {
		return nil, err
	}
	gc := newGuardedConn(c, g.writeTimeout, g.initTimeout)
	if s := socketFrom(r.Context()); s != nil {
		s.setConn(gc)
	}
	return gc, nil
}

// guardedConn is one websocket as gqlgen's transport sees it, guarded:
//   - a client that stops reading is disconnected after writeTimeout instead
//     of holding its connection's writer (and the subscriptions feeding it)
//     forever;
//   - a connection not authenticated within initTimeout is closed, whatever
//     it sent or did not send;
//   - every message from the client is checked against the protocol first
//     (see protocol.go), and a violation closes the socket with the code
//     graphql-transport-ws defines for it.
type guardedConn struct {
	transport.WebsocketConn
	writeTimeout time.Duration
	legacy       bool // graphql-ws rather than graphql-transport-ws

	mu       sync.Mutex
	closing  bool // a close frame was sent
	authed   bool
	initSeen bool
	deadline *time.Timer
	// active are the ids of the operations running on a
	// graphql-transport-ws connection.
	active map[string]struct{}
}

func newGuardedConn(c transport.WebsocketConn, writeTimeout, initTimeout time.Duration) *guardedConn {
	gc := &guardedConn{
		WebsocketConn: c,
		writeTimeout:  writeTimeout,
		legacy:        c.Subprotocol() != transportWSProtocol,
		active:        map[string]struct{}{},
	}
	gc.mu.Lock()
	gc.deadline = time.AfterFunc(initTimeout, gc.initExpired)
	gc.mu.Unlock()
	return gc
}

// initExpired closes a connection still not authenticated at its deadline.
func (c *guardedConn) initExpired() {
	c.mu.Lock()
	authed := c.authed
	c.mu.Unlock()
	if authed {
		return
	}
	if c.legacy {
		c.closeWith(websocket.StatusProtocolError, gqlgenInitTimeoutReason)
		return
	}
	c.closeWith(closeInitTimeout, "Connection initialisation timeout")
}

// authenticated ends the authentication deadline; it reports false when the
// deadline has already closed the connection.
func (c *guardedConn) authenticated() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing {
		return false
	}
	c.authed = true
	c.deadline.Stop()
	return true
}

// closeWith sends a close frame with code and reason, unless one was sent,
// and closes the connection (the close handshake finishes in the
// background, bounded by the websocket library).
func (c *guardedConn) closeWith(code websocket.StatusCode, reason string) {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return
	}
	c.closing = true
	c.deadline.Stop()
	c.mu.Unlock()
	if len(reason) > closeReasonLimit {
		// A reason may quote the client (an id); cut it on a rune boundary.
		reason = strings.ToValidUTF8(reason[:closeReasonLimit], "")
	}
	_ = c.WebsocketConn.WriteClose(int(code), reason)
	_ = c.WebsocketConn.Close()
}

func (c *guardedConn) WriteJSON(v any) error {
	if !c.legacy {
		c.sent(v)
	}
	stuck := time.AfterFunc(c.writeTimeout, c.drop)
	defer stuck.Stop()
	return c.WebsocketConn.WriteJSON(v)
}

// WriteClose sends the close frame gqlgen asks for, unless one was sent
// already, with the init timeout's code as graphql-transport-ws defines it.
func (c *guardedConn) WriteClose(code int, reason string) error {
	if code == transport.WebsocketCloseProtocolError && reason == gqlgenInitTimeoutReason && !c.legacy {
		code, reason = closeInitTimeout, "Connection initialisation timeout"
	}
	c.closeWith(websocket.StatusCode(code), reason)
	return nil
}

// Close closes the connection; gqlgen calls it after WriteClose.
func (c *guardedConn) Close() error {
	c.drop()
	return nil
}

// drop closes the connection without a close frame (when none was sent):
// for a client that stopped reading, a close frame could not be written.
func (c *guardedConn) drop() {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return
	}
	c.closing = true
	c.deadline.Stop()
	c.mu.Unlock()
	_ = c.WebsocketConn.Close()
}

// SetReadLimit forwards the transport's read limit to the real connection.
func (c *guardedConn) SetReadLimit(limit int64) {
	if l, ok := c.WebsocketConn.(transport.WebsocketReadLimiter); ok {
		l.SetReadLimit(limit)
	}
}

// SetReadDeadline forwards the transport's ping-pong deadline.
func (c *guardedConn) SetReadDeadline(t time.Time) error {
	if d, ok := c.WebsocketConn.(transport.WebsocketReadDeadliner); ok {
		return d.SetReadDeadline(t)
	}
	return nil
}
