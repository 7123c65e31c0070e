package pubsub

import (
	"context"
	"errors"
	"testing"
)

func TestMemory(t *testing.T) {
	runContract(t, func(t *testing.T) Bus {
		bus := NewMemory(Options{BufferSize: contractBufferSize})
		t.Cleanup(func() { bus.Close() })
		return bus
	})
}

func TestMemoryDefaultBufferSize(t *testing.T) {
	bus := NewMemory(Options{})
	defer bus.Close()
	sub := subscribe(t, bus, "t")
	for range DefaultBufferSize + 1 {
		publish(t, bus, "t", "x")
	}
	if got := len(drain(t, sub, waitTimeout)); got != DefaultBufferSize {
		t.Fatalf("buffered %d messages before the cut-off, want %d", got, DefaultBufferSize)
	}
	if !errors.Is(sub.Err(), ErrSlowSubscriber) {
		t.Fatalf("Err = %v, want ErrSlowSubscriber", sub.Err())
	}
}

func TestMemoryPublishCopiesPayload(t *testing.T) {
	bus := NewMemory(Options{})
	defer bus.Close()
	sub := subscribe(t, bus, "t")
	payload := []byte("original")
	if err := bus.Publish(t.Context(), "t", payload); err != nil {
		t.Fatal(err)
	}
	copy(payload, "reused!!")
	if m := receive(t, sub, waitTimeout); string(m.Payload) != "original" {
		t.Fatalf("subscriber got %q after the publisher reused its buffer", m.Payload)
	}
}

func TestMemoryPublishHonoursContext(t *testing.T) {
	bus := NewMemory(Options{})
	defer bus.Close()
	sub := subscribe(t, bus, "t")
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := bus.Publish(ctx, "t", []byte("x")); !errors.Is(err, context.Canceled) {
		t.Fatalf("Publish with a done context: err = %v, want context.Canceled", err)
	}
	publish(t, bus, "t", "y")
	if m := receive(t, sub, waitTimeout); string(m.Payload) != "y" {
		t.Fatalf("got %q, the refused message was delivered", m.Payload)
	}
}
