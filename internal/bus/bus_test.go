package bus_test

import (
	"context"
	"testing"
	"time"

	"wagraph/internal/bus"
	"wagraph/internal/pubsub"
)

// deaf is a bus that accepts every publish and delivers nothing, like a
// Redis whose subscription connection is gone while commands still work.
type deaf struct{ bus.Bus }

func (deaf) Publish(context.Context, string, []byte) error { return nil }

func TestRoundTripNeedsDelivery(t *testing.T) {
	mem := pubsub.NewMemory(pubsub.Options{})
	t.Cleanup(func() { _ = mem.Close() })
	if err := bus.RoundTrip(t.Context(), mem); err != nil {
		t.Fatalf("round trip on a working bus: %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	if err := bus.RoundTrip(ctx, deaf{mem}); err == nil {
		t.Fatal("round trip on a bus that delivers nothing succeeded")
	}
	closed := pubsub.NewMemory(pubsub.Options{})
	_ = closed.Close()
	if err := bus.RoundTrip(t.Context(), closed); err == nil {
		t.Fatal("round trip on a closed bus succeeded")
	}
}
