package wasim

import (
	"context"
	"testing"

	"go.mau.fi/whatsmeow/types/events"
)

func TestStartOptions(t *testing.T) {
	if _, err := Start(t.Context(), Options{FirstNumber: "12ab"}); err == nil {
		t.Error("Start accepted a non-numeric FirstNumber")
	}
	if _, err := Start(t.Context(), Options{Addr: "256.0.0.1:0"}); err == nil {
		t.Error("Start accepted an unusable address")
	}

	// The zero Options work: fresh root key, default number range, no log.
	sim, err := Start(t.Context(), Options{FirstNumber: "15550199000"})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	defer sim.Close()
	if sim.RootPublicKey() == PublicKey(testRootKey) {
		t.Error("a simulator without RootKey reused the test root")
	}
	if sim.HTTPClient() == nil || sim.Addr() == "" {
		t.Error("no HTTP client or address")
	}
	if p := sim.NewPhone(); p.Number != "+15550199000" {
		t.Errorf("first number = %s, want +15550199000", p.Number)
	}
}

func TestContextEndsSimulator(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	sim, err := Start(ctx, Options{RootKey: &testRootKey})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	cli, log := newClient(t, sim, newContainer(t).NewDevice())
	connect(t, cli)
	waitFor[*events.QR](t, log, 0)
	cancel()
	// A client waiting for a QR scan sees the server go away.
	waitFor[*events.Disconnected](t, log, 0)
}
