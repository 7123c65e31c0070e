package observe

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/vektah/gqlparser/v2/ast"

	"wagraph/internal/apperr"
)

// Metrics owns wagraph's Prometheus registry (not the global one, so tests can
// build several servers in one process).
type Metrics struct {
	Registry *prometheus.Registry

	httpRequests *prometheus.CounterVec
	httpDuration *prometheus.HistogramVec
	gqlOps       *prometheus.CounterVec
	gqlDuration  *prometheus.HistogramVec
}

// NewMetrics registers the process, Go, HTTP and GraphQL metrics.
func NewMetrics() *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		Registry: reg,
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wagraph_http_requests_total", Help: "HTTP requests by route, method and status code.",
		}, []string{"route", "method", "code"}),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "wagraph_http_request_duration_seconds", Help: "HTTP request latency by route.",
			Buckets: prometheus.DefBuckets,
		}, []string{"route", "method"}),
		gqlOps: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wagraph_graphql_operations_total", Help: "GraphQL operations by type, name (the root field selected, or multiple) and result (ok or the error code).",
		}, []string{"type", "name", "result"}),
		gqlDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "wagraph_graphql_operation_duration_seconds", Help: "GraphQL operation latency (for subscriptions: time to the first response).",
			Buckets: prometheus.DefBuckets,
		}, []string{"type", "name"}),
	}
	reg.MustRegister(
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewGoCollector(),
		m.httpRequests, m.httpDuration, m.gqlOps, m.gqlDuration,
	)
	return m
}

// Handler serves /metrics.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry})
}

// Instrument counts and times requests to one route. route is a fixed label
// (never the raw path, which would explode cardinality).
func (m *Metrics) Instrument(route string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		m.httpRequests.WithLabelValues(route, r.Method, strconv.Itoa(sw.status)).Inc()
		m.httpDuration.WithLabelValues(route, r.Method).Observe(time.Since(start).Seconds())
	})
}

// GraphQLTracer is a gqlgen extension that counts and times operations.
type GraphQLTracer struct {
	m *Metrics
	// codeOf maps an error to its catalog code for the result label.
	codeOf func(error) string
}

// GraphQL returns the tracer to add to the gqlgen handler.
func (m *Metrics) GraphQL(codeOf func(error) string) GraphQLTracer {
	return GraphQLTracer{m: m, codeOf: codeOf}
}

var (
	_ graphql.HandlerExtension     = GraphQLTracer{}
	_ graphql.OperationInterceptor = GraphQLTracer{}
)

// ExtensionName implements graphql.HandlerExtension.
func (GraphQLTracer) ExtensionName() string { return "wagraphMetrics" }

// Validate implements graphql.HandlerExtension.
func (GraphQLTracer) Validate(graphql.ExecutableSchema) error { return nil }

// OperationLabel names an operation for metrics by what it asks for, never by
// what the client calls it (operationName is the client's to choose, and a
// label value per name would let anyone add series without end): the root
// field it selects, aliases and repeats ignored, or "multiple" when it selects
// several. The values are thus bounded by the schema: its root fields,
// __typename, __schema, __type, "multiple" and "other".
func OperationLabel(op *ast.OperationDefinition) string {
	name := ""
	seen := map[string]bool{}
	var walk func(set ast.SelectionSet) bool
	walk = func(set ast.SelectionSet) bool {
		for _, sel := range set {
			switch sel := sel.(type) {
			case *ast.Field:
				if sel.Definition == nil { // not validated against the schema
					name = "other"
					return false
				}
				if name != "" && name != sel.Name {
					name = "multiple"
					return false
				}
				name = sel.Name
			case *ast.InlineFragment:
				if !walk(sel.SelectionSet) {
					return false
				}
			case *ast.FragmentSpread:
				if sel.Definition == nil || seen[sel.Name] {
					continue
				}
				seen[sel.Name] = true
				if !walk(sel.Definition.SelectionSet) {
					return false
				}
			}
		}
		return true
	}
	walk(op.SelectionSet)
	if name == "" {
		return "other"
	}
	return name
}

// knownResults are the result label's values besides "ok" and "other": the
// catalog's codes and gqlgen's own.
var knownResults = func() map[string]bool {
	m := map[string]bool{"GRAPHQL_PARSE_FAILED": true, "GRAPHQL_VALIDATION_FAILED": true}
	for _, c := range apperr.Codes() {
		m[string(c)] = true
	}
	return m
}()

// resultLabel bounds the result label to known codes.
func resultLabel(code string) string {
	if knownResults[code] {
		return code
	}
	return "other"
}

// InterceptOperation implements graphql.OperationInterceptor. It counts each
// operation once, by its first response, so operations refused by a later
// interceptor (a missing token) are counted too and a subscription counts
// once, not once per event.
func (t GraphQLTracer) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	responses := next(ctx)
	if !graphql.HasOperationContext(ctx) {
		return responses
	}
	oc := graphql.GetOperationContext(ctx)
	typ, name := "unknown", "other"
	if oc.Operation != nil {
		typ = string(oc.Operation.Operation)
		name = OperationLabel(oc.Operation)
	}
	var once sync.Once
	return func(ctx context.Context) *graphql.Response {
		resp := responses(ctx)
		once.Do(func() {
			result := "ok"
			if resp != nil && len(resp.Errors) > 0 {
				result = resultLabel(t.codeOf(resp.Errors[0]))
			}
			t.m.gqlOps.WithLabelValues(typ, name, result).Inc()
			if !oc.Stats.OperationStart.IsZero() {
				t.m.gqlDuration.WithLabelValues(typ, name).Observe(time.Since(oc.Stats.OperationStart).Seconds())
			}
		})
		return resp
	}
}
