package whatsapp

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/rs/zerolog"
	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waAdv"
	wastore "go.mau.fi/whatsmeow/store"

	"wagraph/internal/account"
	"wagraph/internal/supervisor"
)

// storeDevice saves a device as pairing would, with placeholder keys.
func storeDevice(t *testing.T, m *Manager, jid string) *wastore.Device {
	t.Helper()
	device := m.container.NewDevice()
	id := mustJID(jid)
	device.ID = &id
	device.Account = &waAdv.ADVSignedDeviceIdentity{
		Details: []byte{1}, AccountSignature: make([]byte, 64), AccountSignatureKey: make([]byte, 32), DeviceSignature: make([]byte, 64),
	}
	if err := m.container.PutDevice(context.Background(), device); err != nil {
		t.Fatal(err)
	}
	return device
}

func TestStoredDevicesCanBeFoundAndDeleted(t *testing.T) {
	m := newTestManager(t, Options{})
	ctx := context.Background()
	device := storeDevice(t, m, "15550100011:3@s.whatsapp.net")
	jid := *device.ID
	if ok, err := m.HasDevice(ctx, jid.String()); !ok || err != nil {
		t.Fatalf("HasDevice = %v, %v; want true", ok, err)
	}
	if err := m.DeleteDevice(ctx, jid.String()); err != nil {
		t.Fatal(err)
	}
	if ok, err := m.HasDevice(ctx, jid.String()); ok || err != nil {
		t.Fatalf("after delete: HasDevice = %v, %v", ok, err)
	}
	// Deleting what is not there, or nothing at all, is fine.
	for _, j := range []string{jid.String(), "", "not a jid@@"} {
		if err := m.DeleteDevice(ctx, j); err != nil {
			t.Fatalf("DeleteDevice(%q) = %v", j, err)
		}
		if ok, err := m.HasDevice(ctx, j); ok || err != nil {
			t.Fatalf("HasDevice(%q) = %v, %v", j, ok, err)
		}
	}
	// Logout without a live session deletes the stored device locally.
	if err := m.container.PutDevice(ctx, device); err != nil {
		t.Fatal(err)
	}
	if err := m.Logout(ctx, "acc", jid.String()); err != nil {
		t.Fatal(err)
	}
	if ok, _ := m.HasDevice(ctx, jid.String()); ok {
		t.Fatal("Logout kept the stored device")
	}
}

func TestStartWithoutStoredDeviceIsDeviceMissing(t *testing.T) {
	m := newTestManager(t, Options{})
	for _, jid := range []string{"15550100012:1@s.whatsapp.net", "@@@"} {
		_, err := m.Start(context.Background(), supervisor.StartRequest{SessionRef: account.SessionRef{AccountID: "a", SessionID: "s"}, JID: jid})
		if !errors.Is(err, supervisor.ErrDeviceMissing) {
			t.Fatalf("Start(%q) = %v, want ErrDeviceMissing", jid, err)
		}
	}
	if _, live := m.Live("a"); live {
		t.Fatal("a failed start left a live session")
	}
}

// unreachable is a client configuration whose websocket can never connect.
func unreachable(cli *whatsmeow.Client) {
	h := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return nil, errors.New("no route to WhatsApp in this test")
	}}}
	cli.SetPreLoginHTTPClient(h)
	cli.SetWebsocketHTTPClient(h)
}

func TestStartReportsConnectFailures(t *testing.T) {
	m := newTestManager(t, Options{ConfigureClient: unreachable})
	ctx := context.Background()
	_, err := m.Start(ctx, supervisor.StartRequest{SessionRef: account.SessionRef{AccountID: "a", SessionID: "s"}, Method: account.MethodQR})
	if err == nil || !strings.Contains(err.Error(), "no route") {
		t.Fatalf("pairing start = %v, want the dial error", err)
	}
	jid := *storeDevice(t, m, "15550100013:1@s.whatsapp.net").ID
	_, err = m.Start(ctx, supervisor.StartRequest{SessionRef: account.SessionRef{AccountID: "a", SessionID: "s2"}, JID: jid.String()})
	if err == nil || errors.Is(err, supervisor.ErrDeviceMissing) {
		t.Fatalf("login start = %v, want a connect error", err)
	}
	if _, live := m.Live("a"); live {
		t.Fatal("a failed start left a session")
	}
	if err := m.Stop(ctx, "a"); err != nil {
		t.Fatal(err)
	}
}

func TestClosedManagerRefusesToStart(t *testing.T) {
	m := newTestManager(t, Options{})
	if err := m.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, err := m.Start(context.Background(), supervisor.StartRequest{Method: account.MethodQR})
	if !errors.Is(err, ErrClosed) {
		t.Fatalf("Start after Close = %v", err)
	}
}

func TestWALoggerWritesStructuredLines(t *testing.T) {
	var buf bytes.Buffer
	log := NewWALogger(zerolog.New(&buf).Level(zerolog.DebugLevel)).Sub("Client").Sub("Socket")
	log.Infof("connected to %s", "server")
	log.Warnf("slow")
	log.Errorf("broken: %d", 7)
	log.Debugf("detail")
	out := buf.String()
	for _, want := range []string{`"module":"Client/Socket"`, `"message":"connected to server"`, `"level":"warn"`, `"message":"broken: 7"`, `"level":"debug"`} {
		if !strings.Contains(out, want) {
			t.Fatalf("log output lacks %s:\n%s", want, out)
		}
	}
	var top bytes.Buffer
	NewWALogger(zerolog.New(&top)).Infof("plain")
	if strings.Contains(top.String(), "module") {
		t.Fatalf("top-level logger has a module: %s", top.String())
	}
}

func TestDescribeQRItem(t *testing.T) {
	if got := describeQRItem(whatsmeow.QRChannelItem{Event: "error", Error: errors.New("boom")}); got != "error: boom" {
		t.Fatalf("got %q", got)
	}
	if got := describeQRItem(whatsmeow.QRChannelTimeout); got != "timeout" {
		t.Fatalf("got %q", got)
	}
}

// The phone sweep reads devices from the store every instance shares, with
// no live session: by JID, or by LID for an account that lost its JID.
func TestStoredDeviceByJIDOrLID(t *testing.T) {
	m := newTestManager(t, Options{})
	ctx := context.Background()
	device := storeDevice(t, m, "15550100012:4@s.whatsapp.net")
	device.LID = mustJID("98765432109876:4@lid")
	device.PushName = "Shop"
	if err := m.container.PutDevice(ctx, device); err != nil {
		t.Fatal(err)
	}
	want := account.Device{JID: "15550100012:4@s.whatsapp.net", LID: "98765432109876:4@lid", PhoneNumber: "+15550100012", PushName: "Shop"}
	for _, tc := range []struct{ jid, lid string }{
		{"15550100012:4@s.whatsapp.net", ""},
		{"", "98765432109876@lid"},
		{"15550100099:1@s.whatsapp.net", "98765432109876:4@lid"},
	} {
		got, err := m.StoredDevice(ctx, tc.jid, tc.lid)
		if err != nil || got != want {
			t.Fatalf("StoredDevice(%q, %q) = %+v, %v; want %+v", tc.jid, tc.lid, got, err, want)
		}
	}
	for _, tc := range []struct{ jid, lid string }{{"", ""}, {"15550100099:1@s.whatsapp.net", ""}, {"", "11111111111111@lid"}, {"not a jid@@", "nor@@this"}} {
		if got, err := m.StoredDevice(ctx, tc.jid, tc.lid); err != nil || got != (account.Device{}) {
			t.Fatalf("StoredDevice(%q, %q) = %+v, %v; want nothing", tc.jid, tc.lid, got, err)
		}
	}
}
