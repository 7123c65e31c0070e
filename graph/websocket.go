package graph

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"wagraph/internal/apperr"
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

// guardedWebsockets wraps an implementation so a client that stops reading
// is disconnected after writeTimeout instead of holding its connection's
// writer (and the subscriptions feeding it) forever.
type guardedWebsockets struct {
	inner        transport.WebsocketImplementation
	writeTimeout time.Duration
}

func (g guardedWebsockets) Accept(w http.ResponseWriter, r *http.Request, o transport.WebsocketAcceptOptions) (transport.WebsocketConn, error) {
	c, err := g.inner.Accept(w, r, o)
	if err != nil {
		return nil, err
	}
	return &guardedConn{WebsocketConn: c, writeTimeout: g.writeTimeout}, nil
}

type guardedConn struct {
	transport.WebsocketConn
	writeTimeout time.Duration
}

func (c *guardedConn) WriteJSON(v any) error {
	stuck := time.AfterFunc(c.writeTimeout, func() { _ = c.Close() })
	defer stuck.Stop()
	return c.WebsocketConn.WriteJSON(v)
}

// gqlgen closes a connection that sent no connection_init in time with a
// protocol error (1002); graphql-transport-ws defines 4408 for it, which
// clients (graphql-ws) treat as "retry", not as a broken server.
const (
	transportWSProtocol     = "graphql-transport-ws"
	gqlgenInitTimeoutReason = "connection initialisation timeout"
	closeInitTimeout        = 4408
)

// WriteClose sends the close frame, with the init timeout's code as
// graphql-transport-ws defines it.
func (c *guardedConn) WriteClose(code int, reason string) error {
	if code == transport.WebsocketCloseProtocolError && reason == gqlgenInitTimeoutReason && c.Subprotocol() == transportWSProtocol {
		return c.WebsocketConn.WriteClose(closeInitTimeout, "Connection initialisation timeout")
	}
	return c.WebsocketConn.WriteClose(code, reason)
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
