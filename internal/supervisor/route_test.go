package supervisor_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"wagraph/internal/apperr"
	"wagraph/internal/pubsub"
	"wagraph/internal/supervisor"
)

func newRouters(t *testing.T) (caller, owner *supervisor.BusRouter) {
	t.Helper()
	bus := pubsub.NewMemory(pubsub.Options{})
	t.Cleanup(func() { _ = bus.Close() })
	log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
	var err error
	if caller, err = supervisor.NewBusRouter(context.Background(), bus, "caller", log); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = caller.Close() })
	if owner, err = supervisor.NewBusRouter(context.Background(), bus, "owner", log); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = owner.Close() })
	return caller, owner
}

func TestRouterCarriesResultsAndCodedErrors(t *testing.T) {
	caller, owner := newRouters(t)
	owner.Handle("echo", func(_ context.Context, req supervisor.RouteRequest) (json.RawMessage, error) {
		return json.Marshal(map[string]string{"account": req.AccountID, "body": string(req.Body)})
	})
	limited := apperr.Newf(apperr.RateLimited, "account %s sent too much", "a1")
	limited.RetryAfter = 1500 * time.Millisecond
	owner.Handle("limited", func(context.Context, supervisor.RouteRequest) (json.RawMessage, error) { return nil, limited })
	owner.Handle("invalid", func(context.Context, supervisor.RouteRequest) (json.RawMessage, error) {
		return nil, apperr.Invalid("phoneNumber", "not a phone number", "Write it as +4915112345678.")
	})
	owner.Handle("refused", func(context.Context, supervisor.RouteRequest) (json.RawMessage, error) {
		return nil, &supervisor.RemoteServerError{Code: 463, Message: "whatsapp: message refused with error 463"}
	})
	owner.Handle("broken", func(context.Context, supervisor.RouteRequest) (json.RawMessage, error) {
		return nil, errors.New("disk on fire")
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	res, err := caller.Call(ctx, "owner", supervisor.RouteRequest{Kind: "echo", AccountID: "a1", Body: json.RawMessage(`{"x":1}`)})
	if err != nil || string(res) != `{"account":"a1","body":"{\"x\":1}"}` {
		t.Fatalf("echo: %s, %v", res, err)
	}

	_, err = caller.Call(ctx, "owner", supervisor.RouteRequest{Kind: "limited", AccountID: "a1"})
	e, ok := apperr.As(err)
	if !ok || e.Code != apperr.RateLimited || e.Message != limited.Message || e.Suggestion != limited.Suggestion ||
		!e.Retryable || e.RetryAfter != limited.RetryAfter {
		t.Fatalf("rate limit across the hop: %#v, want %#v", e, limited)
	}
	_, err = caller.Call(ctx, "owner", supervisor.RouteRequest{Kind: "invalid"})
	if e, ok := apperr.As(err); !ok || e.Code != apperr.InvalidInput || e.Field != "phoneNumber" || e.Suggestion != "Write it as +4915112345678." {
		t.Fatalf("invalid input across the hop: %#v", err)
	}
	_, err = caller.Call(ctx, "owner", supervisor.RouteRequest{Kind: "refused"})
	var sc interface{ ServerCode() int }
	if !errors.As(err, &sc) || sc.ServerCode() != 463 {
		t.Fatalf("WhatsApp's refusal across the hop: %v, want ServerCode 463", err)
	}
	// An uncoded error stays uncoded (the API masks it as on one instance).
	_, err = caller.Call(ctx, "owner", supervisor.RouteRequest{Kind: "broken"})
	if _, coded := apperr.As(err); coded || err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Fatalf("uncoded error across the hop: %v", err)
	}
	_, err = caller.Call(ctx, "owner", supervisor.RouteRequest{Kind: "unknown"})
	if err == nil || !strings.Contains(err.Error(), `no handler for routed request kind "unknown"`) {
		t.Fatalf("unknown kind: %v", err)
	}
}

func TestRouterTimeoutNamesTheSilentInstance(t *testing.T) {
	caller, _ := newRouters(t)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := caller.Call(ctx, "gone-7", supervisor.RouteRequest{Kind: "reset", AccountID: "a9"})
	e, ok := apperr.As(err)
	if !ok || e.Code != apperr.Unavailable || !e.Retryable || !strings.Contains(e.Message, "instance gone-7 did not answer the reset request for account a9") {
		t.Fatalf("no answer: %v, want UNAVAILABLE naming instance gone-7", err)
	}
}
