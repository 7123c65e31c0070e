package whatsapp

import (
	"context"
	"errors"
	"testing"

	"go.mau.fi/whatsmeow"

	"wagraph/internal/account"
	"wagraph/internal/supervisor"
)

type fakeSimulator struct{ root [32]byte }

func (fakeSimulator) Configure(*whatsmeow.Client) {}
func (f fakeSimulator) RootPublicKey() [32]byte   { return f.root }

// A simulated manager makes whatsmeow trust its simulator's root, once per
// process; a manager with another simulator root is refused rather than
// silently breaking the first one's connections.
func TestSimulatorRootIsTrustedOncePerProcess(t *testing.T) {
	trust.Lock()
	saved, savedSet, savedKey := trust.root, trust.set, whatsmeow.WACertPubKey
	trust.root, trust.set = [32]byte{}, false
	trust.Unlock()
	t.Cleanup(func() {
		trust.Lock()
		trust.root, trust.set, whatsmeow.WACertPubKey = saved, savedSet, savedKey
		trust.Unlock()
	})

	realMode := newTestManager(t, Options{})
	if realMode.broken != nil || TrustedRoot() != savedKey {
		t.Fatal("a real-mode manager changed whatsmeow's trust")
	}
	a, b := fakeSimulator{root: [32]byte{1}}, fakeSimulator{root: [32]byte{2}}
	first := newTestManager(t, Options{Simulator: a})
	if first.broken != nil || TrustedRoot() != a.root {
		t.Fatalf("trusted root %x (broken: %v), want the simulator's", TrustedRoot(), first.broken)
	}
	if again := newTestManager(t, Options{Simulator: a}); again.broken != nil {
		t.Fatalf("a second manager on the same root: %v", again.broken)
	}
	other := newTestManager(t, Options{Simulator: b})
	_, err := other.Start(context.Background(), supervisor.StartRequest{SessionRef: account.SessionRef{AccountID: "a", SessionID: "s"}, Method: account.MethodQR})
	if !errors.Is(err, errOtherRoot) || TrustedRoot() != a.root {
		t.Fatalf("start with another simulator root = %v (trusted %x), want it refused and the first root kept", err, TrustedRoot())
	}
}
