package graph

import (
	"context"
	"testing"

	"wagraph/internal/live"
)

// A stream failing outside a websocket (no error channel to the client) is
// still counted, and does not panic in gqlgen's AddSubscriptionError.
func TestFailSubscriptionOutsideAWebsocket(t *testing.T) {
	st := &subscriptionState{}
	ctx := context.WithValue(context.Background(), subscriptionStateKey{}, st)
	failSubscription(ctx, live.ErrTooSlow)
	if code := st.failure.Load(); code == nil || *code != "SUBSCRIBER_TOO_SLOW" {
		t.Errorf("recorded failure %v, want SUBSCRIBER_TOO_SLOW", code)
	}
}
