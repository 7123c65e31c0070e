package app

import (
	"encoding/json"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"wagraph/graph"
	"wagraph/internal/apperr"
	"wagraph/internal/auth"
	"wagraph/internal/console"
	"wagraph/internal/graphiql"
	"wagraph/internal/observe"
)

// routes wires every HTTP endpoint:
//
//	/graphql   GraphQL over POST, GET and websocket
//	/graphiql  GraphiQL (paste the token into its Headers tab)
//	/          the admin console (internal/console), assets under /console/
//	/healthz   liveness, /readyz readiness, /metrics Prometheus
//	/export/contacts.csv  the contacts as CSV (VIEWER and up)
//	/export/groups/participants.csv  a group's members as CSV (VIEWER and up)
func (a *App) routes(resolver *graph.Resolver) http.Handler {
	cfg := a.Config
	gql := graph.NewHandler(resolver, graph.HandlerOptions{
		Introspection:    cfg.Introspection,
		ComplexityLimit:  cfg.ComplexityLimit,
		ParserTokenLimit: cfg.ParserTokenLimit,
		MaxMessageBytes:  cfg.MaxRequestBytes,
		MaxUploadBytes:   cfg.ImportUploadMaxBytes,
		OriginPatterns:   originPatterns(cfg.AllowedOrigins),
		InitTimeout:      cfg.WSInitTimeout,
		KeepAlive:        cfg.WSKeepAlive,
		MaxSubscriptions: cfg.WSMaxSubscriptions,
		WriteTimeout:     cfg.WSWriteTimeout,
		Subscriptions:    a.Metrics.Subscriptions(),
		Tracer:           a.Metrics.GraphQL(func(err error) string { return graph.CodeOf(err) }),
		Log:              a.Log,
	})
	mux := http.NewServeMux()
	handle := func(pattern, route string, h http.Handler) {
		mux.Handle(pattern, a.Metrics.Instrument(route, h))
	}
	handle("/graphql", "/graphql", cors(cfg.AllowedOrigins, limitBody(cfg.MaxRequestBytes, cfg.ImportUploadMaxBytes, a.Auth.Middleware(gql))))
	// GraphiQL is served from the binary, so it works offline. Its Headers
	// tab opens with {"Authorization": "Bearer "} for the token, which it
	// keeps in sessionStorage only (see internal/graphiql).
	ide := graphiql.Handler("/graphql", graphiql.Options{})
	handle("GET /graphiql", "/graphiql", ide)
	handle("GET /graphiql/", "/graphiql", ide)
	handle("GET /healthz", "/healthz", a.Health.LiveHandler())
	// /readyz shows why a component is down only to a caller with a token.
	handle("GET /readyz", "/readyz", a.Auth.Middleware(a.Health.ReadyHandler(authenticated)))
	handle("GET /metrics", "/metrics", a.Metrics.Handler())
	// The contacts as CSV, for a token with VIEWER or more (docs/contacts.md).
	// Any method, so that cors answers a browser's preflight (OPTIONS); the
	// handler itself serves GET only.
	handle("/export/contacts.csv", "/export/contacts.csv", cors(cfg.AllowedOrigins, a.Auth.Middleware(exportContacts(a.Contacts, a.Log))))
	handle("/export/groups/participants.csv", "/export/groups/participants.csv", cors(cfg.AllowedOrigins, a.Auth.Middleware(exportParticipants(a.Groups, a.Log))))
	// The admin console: a page on the public GraphQL API, in the binary.
	admin := console.Handler()
	handle("GET /{$}", "/", admin)
	handle("GET "+console.Prefix, console.Prefix, admin)
	return observe.RequestLogging(a.Log, mux)
}

// authenticated reports whether the request carries a valid token (or auth
// is disabled).
func authenticated(r *http.Request) bool {
	_, ok := auth.FromContext(r.Context())
	return ok
}

// limitBody caps request bodies; websocket messages are capped by the
// transport's read limit instead. A multipart request (file uploads) may
// carry uploads bytes of files on top; the GraphQL transport bounds its
// parts precisely. A body declared too large is refused with 413 before it
// is read; one that turns out too large fails to read.
func limitBody(n, uploads int64, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, limits, raise := n, "MAX_REQUEST_BYTES", "MAX_REQUEST_BYTES"
		if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "multipart/form-data" {
			n, limits, raise = n+uploads, "MAX_REQUEST_BYTES plus IMPORT_UPLOAD_MAX_BYTES for files", "IMPORT_UPLOAD_MAX_BYTES"
		}
		if r.ContentLength > n {
			e := apperr.Newf(apperr.BadRequest, "the request body is too large: %d bytes; this server accepts at most %d (%s)", r.ContentLength, n, limits).
				WithSuggestion("Send a smaller request: split the operation, its input or the file, or ask the operators to raise " + raise + ".")
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusRequestEntityTooLarge)
			_ = json.NewEncoder(w).Encode(map[string]any{"errors": []any{map[string]any{
				"message":    e.Message,
				"extensions": map[string]any{"code": e.Code, "suggestion": e.Suggestion, "retryable": e.Retryable},
			}}})
			return
		}
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, n)
		}
		next.ServeHTTP(w, r)
	})
}

// cors lets the admin app's origins call /graphql from a browser; the same
// list is the websocket origin allowlist.
func cors(allowed []string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin != "" && slices.Contains(allowed, strings.TrimRight(origin, "/")) {
			h := w.Header()
			h.Set("Access-Control-Allow-Origin", origin)
			h.Add("Vary", "Origin")
			h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, X-Request-ID")
			h.Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
			h.Set("Access-Control-Max-Age", "600")
			if r.Method == http.MethodOptions {
				w.WriteHeader(http.StatusNoContent)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// originPatterns turns allowed origins into coder/websocket patterns. They
// keep the scheme, as CORS does: allowing https://admin.example.com must not
// allow a page from http://admin.example.com.
func originPatterns(origins []string) []string {
	out := make([]string, 0, len(origins))
	for _, o := range origins {
		if u, err := url.Parse(o); err == nil && u.Host != "" {
			out = append(out, u.Scheme+"://"+u.Host)
		}
	}
	return out
}
