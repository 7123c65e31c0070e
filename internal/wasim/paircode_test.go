package wasim

import (
	"errors"
	"testing"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/types/events"
)

func TestPairWithCode(t *testing.T) {
	sim := newSim(t)
	cli, log := newClient(t, sim, newContainer(t).NewDevice())
	connect(t, cli)
	waitFor[*events.QR](t, log, 0)

	const number = "+15557654321"
	code, err := cli.PairPhone(t.Context(), number, true, whatsmeow.PairClientChrome, "Chrome (Linux)")
	if err != nil {
		t.Fatalf("PairPhone: %v", err)
	}
	if err := sim.PairWithCode(t.Context(), number, code); err != nil {
		t.Fatalf("PairWithCode: %v", err)
	}
	pair := waitFor[*events.PairSuccess](t, log, 0)
	waitFor[*events.Connected](t, log, 0)
	if pair.ID.User != "15557654321" || cli.Store.ID.User != "15557654321" {
		t.Fatalf("paired as %s (store %s), want the number that was typed", pair.ID, cli.Store.ID)
	}
	if err := sim.PairWithCode(t.Context(), number, code); !errors.Is(err, ErrNoPairingCode) {
		t.Errorf("reusing the code: err = %v, want ErrNoPairingCode", err)
	}
}

func TestPairWithWrongCode(t *testing.T) {
	sim := newSim(t)
	cli, log := newClient(t, sim, newContainer(t).NewDevice())
	connect(t, cli)
	waitFor[*events.QR](t, log, 0)
	phone := sim.NewPhone()
	code, err := cli.PairPhone(t.Context(), phone.Number, false, whatsmeow.PairClientChrome, "Chrome (Linux)")
	if err != nil {
		t.Fatalf("PairPhone: %v", err)
	}
	wrong := []byte(code)
	if wrong[0] == 'A' {
		wrong[0] = 'B'
	} else {
		wrong[0] = 'A'
	}
	if err := sim.PairWithCode(t.Context(), phone.Number, string(wrong)); !errors.Is(err, ErrWrongPairingCode) {
		t.Fatalf("PairWithCode with a wrong code: err = %v, want ErrWrongPairingCode", err)
	}
	if cli.Store.ID != nil {
		t.Fatal("client paired with a wrong code")
	}
	if err := sim.PairWithCode(t.Context(), "+1000", "ABCD-EFGH"); !errors.Is(err, ErrNoPairingCode) {
		t.Errorf("unknown number: err = %v, want ErrNoPairingCode", err)
	}
}
