package app

import (
	"context"
	"crypto/rand"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"time"

	"wagraph/internal/wasim"
)

// simulatorRoot is the Noise root key of every simulator this process
// starts. whatsmeow trusts one root per process, so simulate-mode apps in
// one process (tests start several) share it; the session manager makes
// whatsmeow trust it (whatsapp.Options.Simulator). Real mode never calls it.
var simulatorRoot = sync.OnceValue(wasim.NewRootKey)

// startSimulator runs the WhatsApp protocol simulator in this process. It
// runs before startAccounts, which hands it to the session manager.
func (a *App) startSimulator(ctx context.Context) error {
	root := simulatorRoot()
	first, err := firstSimulatedNumber()
	if err != nil {
		return err
	}
	// The simulator lives until Close, not until ctx: a cancelled start
	// context (the first SIGINT) begins a graceful shutdown in which the
	// sessions still talk to it.
	sim, err := wasim.Start(context.WithoutCancel(ctx), wasim.Options{Logger: a.Log, RootKey: &root, FirstNumber: first})
	if err != nil {
		return fmt.Errorf("start the WhatsApp simulator: %w", err)
	}
	a.Simulator = sim
	a.closers = append(a.closers, func() error { sim.Close(); return nil })
	a.Log.Warn().Str("simulator", sim.Addr()).Stringer("scan_delay", a.Config.SimulateScanDelay).
		Msg("SIMULATE MODE: WhatsApp is simulated inside this process and no real WhatsApp server is contacted. " +
			"A simulated phone scans each QR code (or enters each pairing code) after the scan delay, with a fresh number.")
	return nil
}

// firstSimulatedNumber picks where this run's simulated phone numbers start:
// +1 555 and seven digits from a random point. The simulator forgets its
// phones when the process stops, but the database keeps the devices linked
// in earlier runs; a fresh range keeps a new link from colliding with one of
// them (a device id is unique in both the device store and accounts.jid).
func firstSimulatedNumber() (string, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(9_000_000))
	if err != nil {
		return "", fmt.Errorf("pick simulated phone numbers: %w", err)
	}
	return fmt.Sprintf("1555%07d", 100_000+n.Int64()), nil
}

// SimulateGuide is what server.go prints when simulate mode starts: what the
// mode does and which GraphQL operations to try in GraphiQL at baseURL, each
// on lines of its own indented by seven spaces (ACCOUNT_ID stands for the id
// createAccount returns). It is empty in real mode.
func (a *App) SimulateGuide(baseURL string) string {
	if a.SharedSimulator != nil {
		return a.sharedSimulatorGuide(baseURL)
	}
	if a.Simulator == nil {
		return ""
	}
	delay := a.Config.SimulateScanDelay.Round(time.Millisecond)
	var b strings.Builder
	fmt.Fprintf(&b, `
SIMULATE MODE: WhatsApp is simulated inside this process; nothing reaches WhatsApp.
A simulated phone scans every QR code (or enters every pairing code) %[1]s after an
activation starts (SIMULATE_SCAN_DELAY), with a fresh number (+1555...).

The quickest way: open the console at %[2]s/, sign in with the token, create an
account, open it and press "Link with a QR code" (docs/user-guide.md).

Or try in GraphiQL (%[2]s/graphiql), with the token in the Headers tab:

  1. Create an account:
       mutation { createAccount(input: {name: "Demo 1"}) { account { id status } } }
  2. Start a QR activation, with the id from 1:
       mutation { startActivation(input: {accountId: "ACCOUNT_ID", method: QR}) {
         account { status activation { secondsRemaining qr { code imageDataUrl expiresAt } } } } }
  3. Look at the account now and again after %[1]s: AWAITING_SCAN, then ACTIVE with a phone number.
       { account(id: "ACCOUNT_ID") { status phoneNumber statusReason { code message }
         statusHistory { edges { node { from to reason { code } at } } } } }

  Watch it live instead of polling: in a second GraphiQL tab, before step 2, run
       subscription { qrCodeUpdated(accountId: "ACCOUNT_ID") { version status done secondsRemaining code } }
  (or accountStatusChanged { accountId version change { from to reason { code } } }).

  For a pairing code instead: method: PAIRING_CODE, phoneNumber: "+49 151 23456789".
  To link an account again: resetAccount or logoutAccount, then step 2.

No token at hand? SIMULATE=true go run . token create --role ADMIN --name me
The simulated phones live only as long as this process: accounts linked in an
earlier run come back LOGGED_OUT; start an activation to link them again.
More in docs/simulator.md.

`, delay, baseURL)
	return b.String()
}
