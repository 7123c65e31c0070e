package observe_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/client"
	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/testserver"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"wagraph/internal/observe"
	"wagraph/internal/pubsub"
)

// scrape returns the /metrics exposition of m.
func scrape(t *testing.T, m *observe.Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("/metrics = %d", rec.Code)
	}
	return rec.Body.String()
}

// sample returns the value of one series, e.g.
// `wagraph_http_requests_total{code="200",method="GET",route="/x"}`
// (labels in alphabetical order, as the exposition writes them), or 0.
func sample(t *testing.T, exposition, series string) float64 {
	t.Helper()
	for line := range strings.Lines(exposition) {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			if err != nil {
				t.Fatalf("series %s: %v", series, err)
			}
			return v
		}
	}
	return 0
}

func TestInstrumentCountsHTTPRequests(t *testing.T) {
	m := observe.NewMetrics()
	h := m.Instrument("/teapot", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			w.WriteHeader(http.StatusTeapot)
		}
	}))
	for _, method := range []string{"GET", "POST", "POST"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(method, "/teapot/anything?x=1", nil))
	}
	out := scrape(t, m)
	for series, want := range map[string]float64{
		`wagraph_http_requests_total{code="200",method="GET",route="/teapot"}`:          1,
		`wagraph_http_requests_total{code="418",method="POST",route="/teapot"}`:         2,
		`wagraph_http_request_duration_seconds_count{method="POST",route="/teapot"}`:    2,
		`wagraph_http_requests_total{code="200",method="GET",route="/teapot/anything"}`: 0,
	} {
		if got := sample(t, out, series); got != want {
			t.Errorf("%s = %v, want %v", series, got, want)
		}
	}
	if !strings.Contains(out, "go_goroutines") {
		t.Error("/metrics lacks the Go runtime metrics")
	}
}

// Two registries can live in one process (several test servers).
func TestMetricsAreNotGlobal(t *testing.T) {
	a, b := observe.NewMetrics(), observe.NewMetrics()
	a.Instrument("/r", http.NotFoundHandler()).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/r", nil))
	if got := sample(t, scrape(t, b), `wagraph_http_requests_total{code="404",method="GET",route="/r"}`); got != 0 {
		t.Errorf("a request counted in a showed up in b: %v", got)
	}
}

// codeOf reads the code a test error carries.
func codeOf(err error) string {
	var gqlErr *gqlerror.Error
	if errors.As(err, &gqlErr) {
		if c, ok := gqlErr.Extensions["code"].(string); ok {
			return c
		}
	}
	return "INTERNAL"
}

// refuseNamed refuses operations named Refused, the way RequireToken refuses
// a missing token: without calling next.
func refuseNamed(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	if op := graphql.GetOperationContext(ctx).Operation; op != nil && op.Name == "Refused" {
		return graphql.OneShot(&graphql.Response{Errors: gqlerror.List{{
			Message: "no token", Extensions: map[string]any{"code": "UNAUTHENTICATED"},
		}}})
	}
	return next(ctx)
}

func TestGraphQLTracer(t *testing.T) {
	m := observe.NewMetrics()
	srv := testserver.New()
	srv.AddTransport(transport.Websocket{})
	srv.AddTransport(transport.POST{})
	tracer := m.GraphQL(codeOf)
	if tracer.ExtensionName() == "" || tracer.Validate(nil) != nil {
		t.Fatal("tracer is not a valid extension")
	}
	srv.Use(tracer)
	srv.AroundOperations(refuseNamed)
	c := client.New(srv)

	var resp struct{ Name string }
	if err := c.Post(`query Named { name }`, &resp); err != nil {
		t.Fatal(err)
	}
	if err := c.Post(`{ name }`, &resp); err != nil {
		t.Fatal(err)
	}
	if err := c.Post(`mutation Change { name }`, &resp); err == nil {
		t.Fatal("the test server's mutation should fail")
	}
	if err := c.Post(`query Refused { name }`, &resp); err == nil || !strings.Contains(err.Error(), "no token") {
		t.Fatalf("refused operation: %v", err)
	}

	sub := c.Websocket(`subscription Watch { name }`)
	defer func() { _ = sub.Close() }()
	for range 3 {
		srv.SendNextSubscriptionMessage()
		if err := sub.Next(&resp); err != nil || resp.Name != "test" {
			t.Fatalf("subscription event: %+v, %v", resp, err)
		}
	}

	out := scrape(t, m)
	for series, want := range map[string]float64{
		// named by the root field, not by the client's operation name
		`wagraph_graphql_operations_total{name="name",result="ok",type="query"}`:          2,
		`wagraph_graphql_operations_total{name="name",result="INTERNAL",type="mutation"}`: 1,
		// refused before execution
		`wagraph_graphql_operations_total{name="name",result="UNAUTHENTICATED",type="query"}`: 1,
		// a subscription is one operation, however many events it sends
		`wagraph_graphql_operations_total{name="name",result="ok",type="subscription"}`:     1,
		`wagraph_graphql_operation_duration_seconds_count{name="name",type="query"}`:        3,
		`wagraph_graphql_operation_duration_seconds_count{name="name",type="subscription"}`: 1,
	} {
		if got := sample(t, out, series); got != want {
			t.Errorf("%s = %v, want %v", series, got, want)
		}
	}
}

// Outside an operation (no operation context) the tracer stays out of the way.
func TestGraphQLTracerWithoutOperation(t *testing.T) {
	m := observe.NewMetrics()
	called := false
	h := m.GraphQL(codeOf).InterceptOperation(context.Background(), func(context.Context) graphql.ResponseHandler {
		called = true
		return graphql.OneShot(&graphql.Response{})
	})
	if !called || h(context.Background()) == nil {
		t.Fatal("tracer did not pass the operation on")
	}
	if strings.Contains(scrape(t, m), "wagraph_graphql_operations_total{") {
		t.Error("counted an operation without an operation context")
	}
}

func TestSubscriptionMetrics(t *testing.T) {
	m := observe.NewMetrics()
	s := m.Subscriptions()
	s.ConnectionOpened()
	s.ConnectionOpened()
	s.ConnectionClosed()
	s.SubscriptionStarted("accountStatus")
	s.SubscriptionStarted("accountStatus")
	s.SubscriptionEnded("accountStatus")
	s.EventDelivered("accountStatus")
	s.EventDelivered("accountStatus")
	s.SubscriptionFailed("accountStatus", "SUBSCRIBER_TOO_SLOW")
	out := scrape(t, m)
	for series, want := range map[string]float64{
		`wagraph_ws_connections`:                                                              1,
		`wagraph_subscriptions{kind="accountStatus"}`:                                         1,
		`wagraph_subscription_events_delivered_total{kind="accountStatus"}`:                   2,
		`wagraph_subscriptions_failed_total{code="SUBSCRIBER_TOO_SLOW",kind="accountStatus"}`: 1,
	} {
		if got := sample(t, out, series); got != want {
			t.Errorf("%s = %v, want %v", series, got, want)
		}
	}
}

func TestBusMetrics(t *testing.T) {
	m := observe.NewMetrics()
	stats := pubsub.Stats{Published: 5, Delivered: 9, Dropped: 2, SlowSubscribersCut: 1, ActiveSubscriptions: 3}
	m.RegisterBus(func() pubsub.Stats { return stats })
	out := scrape(t, m)
	for series, want := range map[string]float64{
		"wagraph_bus_published_total":            5,
		"wagraph_bus_delivered_total":            9,
		"wagraph_bus_dropped_total":              2,
		"wagraph_bus_slow_subscribers_cut_total": 1,
		"wagraph_bus_subscriptions":              3,
	} {
		if got := sample(t, out, series); got != want {
			t.Errorf("%s = %v, want %v", series, got, want)
		}
	}
	stats.Published = 6 // read at scrape time, not at registration
	if got := sample(t, scrape(t, m), "wagraph_bus_published_total"); got != 6 {
		t.Errorf("after another publish: %v, want 6", got)
	}
}
