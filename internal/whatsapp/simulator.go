package whatsapp

import (
	"errors"
	"sync"

	"go.mau.fi/whatsmeow"
)

// Simulator is a WhatsApp protocol simulator that the manager's clients talk
// to instead of WhatsApp: internal/wasim, in --simulate mode and in tests.
type Simulator interface {
	// Configure points a new client at the simulator.
	Configure(cli *whatsmeow.Client)
	// RootPublicKey is the key the simulator's Noise certificates are
	// signed with, which whatsmeow has to trust.
	RootPublicKey() [32]byte
}

// trust is the certificate root this process made whatsmeow trust for a
// simulator. whatsmeow trusts one root per process (its package variable
// WACertPubKey), so it is written once, before any client of a simulated
// manager exists; a real-mode manager never writes it.
var trust struct {
	sync.Mutex
	root [32]byte
	set  bool
}

// errOtherRoot refuses a simulator whose root differs from the one this
// process already trusts.
var errOtherRoot = errors.New("whatsapp: this process already trusts another simulator's certificate root; simulators in one process must share one root key (wasim.Options.RootKey)")

// trustSimulatorRoot makes whatsmeow trust a simulator's root.
func trustSimulatorRoot(root [32]byte) error {
	trust.Lock()
	defer trust.Unlock()
	if trust.set {
		if trust.root != root {
			return errOtherRoot
		}
		return nil
	}
	whatsmeow.WACertPubKey = root
	trust.root, trust.set = root, true
	return nil
}

// TrustedRoot returns the Noise certificate root whatsmeow trusts in this
// process: WhatsApp's own, unless a simulated manager was built.
func TrustedRoot() [32]byte {
	trust.Lock()
	defer trust.Unlock()
	return whatsmeow.WACertPubKey
}
