package graph

import (
	"context"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/coder/websocket"
	"github.com/rs/zerolog"
	"github.com/vektah/gqlparser/v2/ast"

	"wagraph/internal/apperr"
)

// HandlerOptions are the limits and switches of the GraphQL endpoint.
type HandlerOptions struct {
	Introspection    bool
	ComplexityLimit  int
	ParserTokenLimit int
	// MaxMessageBytes caps one websocket message from the client, and the
	// operations and map parts of a multipart request.
	MaxMessageBytes int64
	// MaxUploadBytes caps the files of one multipart request (file
	// uploads); 0 refuses uploads.
	MaxUploadBytes int64
	// OriginPatterns are origin patterns (coder/websocket syntax, e.g.
	// "https://admin.example.com" or "http://localhost:*") allowed to open
	// websockets besides the server's own origin.
	OriginPatterns []string
	InitTimeout    time.Duration
	KeepAlive      time.Duration
	// MaxSubscriptions caps concurrent subscriptions per websocket.
	MaxSubscriptions int
	// WriteTimeout disconnects a websocket client that stops reading.
	WriteTimeout time.Duration
	// Subscriptions observes websockets and subscriptions; nil for none.
	Subscriptions SubscriptionMetrics
	// Tracer observes every operation (metrics).
	Tracer graphql.HandlerExtension
	Log    zerolog.Logger
}

// NewHandler builds the /graphql handler: POST, GET (queries only) and
// websocket (graphql-transport-ws and legacy graphql-ws) transports, auth on
// every operation but health, limits, error presenter and recovery.
func NewHandler(r *Resolver, opts HandlerOptions) *handler.Server {
	if r.QRImages == nil {
		// A few hundred codes cover every activation a page could show.
		r.QRImages = NewQRImages(qrImageSize, 512)
	}
	srv := handler.New(NewExecutableSchema(Config{
		Resolvers:  r,
		Directives: DirectiveRoot{HasRole: hasRole},
	}))
	metrics := opts.Subscriptions
	if metrics == nil {
		metrics = noMetrics{}
	}
	var readLimit = opts.MaxMessageBytes
	initTimeout := opts.InitTimeout
	if initTimeout <= 0 {
		initTimeout = 10 * time.Second
	}
	srv.AddTransport(guardedTransport{transport.Websocket{
		Implementation: guardedWebsockets{
			inner: transport.CoderWebsocketImplementation{AcceptOptions: websocket.AcceptOptions{
				OriginPatterns: opts.OriginPatterns,
			}},
			writeTimeout: max(opts.WriteTimeout, time.Second),
			initTimeout:  initTimeout,
		},
		InitFunc: initConnection(r.Auth, metrics),
		CloseFunc: func(ctx context.Context, _ int) {
			if st := connStateFrom(ctx); st != nil && st.open.CompareAndSwap(true, false) {
				metrics.ConnectionClosed()
			}
		},
		InitTimeout: opts.InitTimeout,
		// graphql-ws (legacy) keeps alive with "ka" messages;
		// graphql-transport-ws with ping/pong, and a client that stops
		// answering pings is disconnected after two intervals.
		KeepAlivePingInterval: opts.KeepAlive,
		PingPongInterval:      opts.KeepAlive,
		PayloadReadLimit:      &readLimit,
		ErrorFunc: func(ctx context.Context, err error) {
			opts.Log.Debug().Err(err).Msg("websocket closed with an error")
		},
	}})
	srv.AddTransport(transport.Options{})
	srv.AddTransport(httpTransport{uploads: uploadLimits{MaxBytes: opts.MaxUploadBytes, MaxFieldBytes: opts.MaxMessageBytes}}) // GET and POST (JSON or multipart with files)

	queryCache := lru.New[*ast.QueryDocument](1000)
	srv.SetQueryCache(queryCache)
	srv.SetParserTokenLimit(opts.ParserTokenLimit)
	// Before gqlgen parses and validates: refuse documents whose expansion
	// would cost more than reading them (issue 9, defect 1).
	srv.Use(documentGuard{limits: DefaultDocumentLimits(opts.ComplexityLimit), tokenLimit: opts.ParserTokenLimit, validated: queryCache})
	if opts.Introspection {
		srv.Use(extension.Introspection{})
	}
	srv.Use(extension.FixedComplexityLimit(opts.ComplexityLimit))
	srv.Use(nulGuard{}) // NUL in string input: INVALID_INPUT, not a database error
	if opts.Tracer != nil {
		srv.Use(opts.Tracer)
	}
	srv.AroundOperations(refuseEndedConnections(r.Auth))
	srv.AroundOperations(RequireToken)
	srv.AroundOperations(memoHealth) // one health report per operation, however many aliases
	srv.AroundOperations(limitSubscriptions(max(opts.MaxSubscriptions, 1), metrics))
	srv.SetErrorPresenter(ErrorPresenter)
	srv.SetRecoverFunc(RecoverFunc)
	return srv
}

// initFailure closes a websocket whose connection_init failed: 4401 with the
// reason for a token problem (so the client asks for a new token), 4500 when
// the check itself could not run (so the client retries).
func initFailure(ctx context.Context, err error) (context.Context, *transport.InitPayload, error) {
	code := 4401
	switch apperr.CodeOf(err) {
	case apperr.Unauthenticated:
	case apperr.RateLimited: // too many failed attempts from this address
		code = 4429
	default:
		code = 4500
	}
	reason := string(apperr.CodeOf(err))
	if e, ok := apperr.As(err); ok {
		reason += ": " + e.Message
	}
	if len(reason) > 123 { // the websocket limit for a close reason
		reason = reason[:123]
	}
	ctx = transport.WithWebsocketCloseCode(ctx, code)
	return transport.AppendCloseReason(ctx, reason), nil, err
}
