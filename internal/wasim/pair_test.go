package wasim

import (
	"strings"
	"testing"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/types/events"
)

func TestQRPairLoginAndRestore(t *testing.T) {
	sim := newSim(t)
	cli, log, phone, container := pairedClient(t, sim, noAutoReconnect)

	if !strings.HasPrefix(phone.Number, "+1555") {
		t.Errorf("phone number %q is not a fresh E.164 test number", phone.Number)
	}
	pair := waitFor[*events.PairSuccess](t, log, 0)
	if pair.ID.User != phone.JID.User || pair.ID.Device == 0 {
		t.Errorf("PairSuccess ID = %s, want a companion device of %s", pair.ID, phone.JID)
	}
	if pair.LID.User != phone.LID.User {
		t.Errorf("PairSuccess LID = %s, want %s", pair.LID, phone.LID)
	}
	if cli.Store.ID == nil || cli.Store.ID.User != strings.TrimPrefix(phone.Number, "+") {
		t.Fatalf("Store.ID = %v, want the phone number %s", cli.Store.ID, phone.Number)
	}
	if cli.Store.LID.User != phone.LID.User {
		t.Errorf("Store.LID = %s, want %s", cli.Store.LID, phone.LID)
	}
	if !cli.IsLoggedIn() || !sim.Connected(*cli.Store.ID) {
		t.Fatal("client is not logged in after pairing")
	}

	// A "restart": the first client's process dies with its connection, a
	// new client on the same device store logs straight in without a QR.
	devJID := *cli.Store.ID
	mark := log.mark()
	if err := sim.Drop(devJID); err != nil {
		t.Fatalf("Drop: %v", err)
	}
	waitFor[*events.Disconnected](t, log, mark)
	device, err := container.GetDevice(t.Context(), devJID)
	if err != nil || device == nil {
		t.Fatalf("GetDevice: %v, %v", device, err)
	}
	cli2, log2 := newClient(t, sim, device)
	connect(t, cli2)
	waitFor[*events.Connected](t, log2, 0)
	if n := count[*events.QR](log2, 0); n != 0 {
		t.Errorf("restored client got %d QR events", n)
	}
	if got := sim.Devices(phone.JID); len(got) != 1 || got[0] != devJID {
		t.Errorf("Devices(%s) = %v, want [%s]", phone.JID, got, devJID)
	}
}

func TestQRRefsAndRotation(t *testing.T) {
	sim := newSim(t)
	cli, log := newClient(t, sim, newContainer(t).NewDevice())
	connect(t, cli)
	qr := waitFor[*events.QR](t, log, 0)
	if len(qr.Codes) != qrRefCount {
		t.Fatalf("got %d QR codes, want %d", len(qr.Codes), qrRefCount)
	}
	seen := map[string]bool{}
	for _, c := range qr.Codes {
		ref := strings.Split(c, ",")[0]
		if seen[ref] {
			t.Fatalf("duplicate ref %q", ref)
		}
		seen[ref] = true
	}
	// Any offered ref works, not only the first: the client rotates them.
	phone, err := sim.ScanQR(t.Context(), qr.Codes[3])
	if err != nil {
		t.Fatalf("ScanQR with rotated code: %v", err)
	}
	waitFor[*events.Connected](t, log, 0)
	if cli.Store.ID.User != phone.JID.User {
		t.Fatalf("Store.ID = %s, want %s", cli.Store.ID, phone.JID)
	}
	// Refs are single-use.
	if _, err := sim.ScanQR(t.Context(), qr.Codes[0]); err != ErrUnknownQR {
		t.Fatalf("second scan: err = %v, want ErrUnknownQR", err)
	}
}

func TestScanQRRejectsBadCodes(t *testing.T) {
	sim := newSim(t)
	cli, log := newClient(t, sim, newContainer(t).NewDevice())
	connect(t, cli)
	qr := waitFor[*events.QR](t, log, 0)
	parts := strings.Split(qr.Codes[0], ",")

	tampered := strings.Join([]string{parts[0], parts[2], parts[2], parts[3]}, ",")
	cases := map[string]struct {
		code string
		want error
	}{
		"garbage":     {"not a qr", ErrBadQR},
		"bad base64":  {"ref,!!,!!,!!", ErrBadQR},
		"unknown ref": {strings.Join(append([]string{"2@nope"}, parts[1:]...), ","), ErrUnknownQR},
		"wrong keys":  {tampered, ErrQRKeyMismatch},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := sim.ScanQR(t.Context(), tc.code); err != tc.want {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
	if cli.Store.ID != nil {
		t.Fatal("client paired from a bad QR")
	}
	_ = whatsmeow.QRChannelSuccess
}
