package app

import (
	"context"
	"fmt"

	"wagraph/internal/simserver"
)

// connectSimulator connects to the shared simulator process SIMULATE names
// (`wagraph simulator`): its control API hands over the certificate root
// whatsmeow must trust and the websocket's TLS certificate, and the session
// manager then connects every client there (whatsapp.Options.Simulator).
// The simulated phones live in that process, so they survive a restart of
// this one; no demo phone runs here, since several instances share the
// simulator: tests and people scan through its control API.
func (a *App) connectSimulator(ctx context.Context) error {
	c, err := simserver.Dial(ctx, a.Config.SimulatorURL)
	if err != nil {
		return fmt.Errorf("SIMULATE=%s: %w; start the simulator first, or unset SIMULATE to use WhatsApp", a.Config.SimulatorURL, err)
	}
	a.SharedSimulator = c
	a.Log.Warn().Str("simulator", c.URL()).Str("websocket", c.Info().WebsocketAddr).
		Msg("SIMULATE MODE: WhatsApp is simulated by the shared simulator process and no real WhatsApp server is contacted")
	return nil
}

// sharedSimulatorGuide is SimulateGuide with a shared simulator: how to
// link an account through the simulator's control API.
func (a *App) sharedSimulatorGuide(baseURL string) string {
	return fmt.Sprintf(`
SIMULATE MODE: WhatsApp is simulated by the shared simulator at %[1]s;
nothing reaches WhatsApp. Its phones do not scan by themselves. Start an activation
in the console (%[2]s/) or in GraphiQL (%[2]s/graphiql), then have
a new simulated phone scan the account's QR code through the simulator's control API:

    curl -s %[1]s/v1/scan -H 'Content-Type: application/json' -d '{"qr": "QR_CODE"}'

or type a pairing code on the phone with the number it was requested for:

    curl -s %[1]s/v1/pairing-code -H 'Content-Type: application/json' \
      -d '{"phoneNumber": "+4915123456789", "code": "ABCD-EFGH"}'

More in docs/simulator.md.

`, a.SharedSimulator.URL(), baseURL)
}
