package whatsapp

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"go.mau.fi/whatsmeow/proto/waSyncAction"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
	"google.golang.org/protobuf/proto"

	"wagraph/internal/account"
	"wagraph/internal/store"
	"wagraph/internal/store/storetest"
	"wagraph/internal/supervisor"
)

// recordingSink collects the domain events a session delivers.
type recordingSink struct{ ch chan account.SessionEvent }

func newRecordingSink() *recordingSink {
	return &recordingSink{ch: make(chan account.SessionEvent, 64)}
}

func (r *recordingSink) HandleSessionEvent(_ context.Context, _ account.SessionRef, evt account.SessionEvent) error {
	r.ch <- evt
	return nil
}

func (r *recordingSink) next(t *testing.T) account.SessionEvent {
	t.Helper()
	select {
	case evt := <-r.ch:
		return evt
	case <-time.After(10 * time.Second):
		t.Fatal("no session event delivered")
		return nil
	}
}

func mustJID(s string) types.JID {
	j, err := types.ParseJID(s)
	if err != nil {
		panic(err)
	}
	return j
}

func newTestManager(t *testing.T, opts Options) *Manager {
	t.Helper()
	db := storetest.Open(t, store.SQLite)
	opts.Logger = zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
	container, err := OpenDeviceStore(context.Background(), db, opts.Logger)
	if err != nil {
		t.Fatal(err)
	}
	m := NewManager(container, newRecordingSink(), opts)
	t.Cleanup(func() { _ = m.Close(context.Background()) })
	return m
}

// newTestSession is a session over an unconnected client whose device has
// the given own JID (none when empty).
func newTestSession(t *testing.T, m *Manager, ownJID string) (*Session, *recordingSink) {
	t.Helper()
	device := m.container.NewDevice()
	if ownJID != "" {
		jid := mustJID(ownJID)
		device.ID = &jid
		device.LID = mustJID("99887766:4@lid")
		device.PushName, device.Platform = "Shop", "android"
	}
	s, ok := m.newSession(supervisor.StartRequest{SessionRef: account.SessionRef{AccountID: "acc", SessionID: "s1"}}, device)
	if !ok {
		t.Fatal("the manager is closed")
	}
	t.Cleanup(s.stop)
	return s, m.sink.(*recordingSink)
}

func TestEventMapping(t *testing.T) {
	const own = "15550100001:4@s.whatsapp.net"
	now := time.Now()
	cases := []struct {
		name  string
		evt   any
		check func(t *testing.T, got []account.SessionEvent)
		want  int // number of domain events
	}{
		{"pair success", &events.PairSuccess{ID: mustJID(own), LID: mustJID("99887766:4@lid"), Platform: "android", BusinessName: "Shop GmbH"}, func(t *testing.T, got []account.SessionEvent) {
			want := account.Paired{Device: account.Device{JID: own, LID: "99887766:4@lid", PhoneNumber: "+15550100001", Platform: "android", BusinessName: "Shop GmbH"}}
			if !reflect.DeepEqual(got[0], want) {
				t.Fatalf("got %+v, want %+v", got[0], want)
			}
		}, 1},
		{"pair error", &events.PairError{Error: errors.New("hmac mismatch")}, func(t *testing.T, got []account.SessionEvent) {
			if got[0] != (account.PairFailed{Message: "hmac mismatch"}) {
				t.Fatalf("got %+v", got[0])
			}
		}, 1},
		{"connected", &events.Connected{}, func(t *testing.T, got []account.SessionEvent) {
			c, ok := got[0].(account.Connected)
			if !ok || c.Device.JID != own || c.Device.PhoneNumber != "+15550100001" || c.Device.PushName != "Shop" || c.Device.LID != "99887766:4@lid" {
				t.Fatalf("got %+v", got[0])
			}
		}, 1},
		{"push name", &events.PushNameSetting{Action: &waSyncAction.PushNameSetting{Name: proto.String("Shop Berlin")}}, func(t *testing.T, got []account.SessionEvent) {
			if got[0] != (account.PushNameChanged{PushName: "Shop Berlin"}) {
				t.Fatalf("got %+v", got[0])
			}
		}, 1},
		{"disconnected", &events.Disconnected{}, func(t *testing.T, got []account.SessionEvent) {
			d, ok := got[0].(account.Disconnected)
			if !ok || d.Reason.Code != account.ReasonWADisconnected {
				t.Fatalf("got %+v", got[0])
			}
		}, 1},
		{"keep-alive timeout", &events.KeepAliveTimeout{ErrorCount: 2, LastSuccess: now.Add(-40 * time.Second)}, func(t *testing.T, got []account.SessionEvent) {
			k, ok := got[0].(account.KeepAliveTimeout)
			if !ok || k.ErrorCount != 2 || !k.LastSuccess.Equal(now.Add(-40*time.Second)) {
				t.Fatalf("got %+v", got[0])
			}
		}, 1},
		{"keep-alive restored", &events.KeepAliveRestored{}, func(t *testing.T, got []account.SessionEvent) {
			if got[0] != (account.KeepAliveRestored{}) {
				t.Fatalf("got %+v", got[0])
			}
		}, 1},
		{"logged out", &events.LoggedOut{OnConnect: true, Reason: events.ConnectFailureLoggedOut}, func(t *testing.T, got []account.SessionEvent) {
			l, ok := got[0].(account.LoggedOut)
			if !ok || l.Reason.Code != account.ReasonWALoggedOut || !strings.Contains(l.Reason.Message, "401") || !strings.Contains(l.Reason.Message, "when connecting") {
				t.Fatalf("got %+v", got[0])
			}
		}, 1},
		{"logged out while connected", &events.LoggedOut{Reason: events.ConnectFailureMainDeviceGone}, func(t *testing.T, got []account.SessionEvent) {
			l := got[0].(account.LoggedOut)
			if !strings.Contains(l.Reason.Message, "403") || !strings.Contains(l.Reason.Message, "while connected") {
				t.Fatalf("got %+v", l)
			}
		}, 1},
		{"stream replaced", &events.StreamReplaced{}, func(t *testing.T, got []account.SessionEvent) {
			if got[0] != (account.StreamReplaced{}) {
				t.Fatalf("got %+v", got[0])
			}
		}, 1},
		{"temporary ban", &events.TemporaryBan{Code: events.TempBanSentToTooManyPeople, Expire: time.Hour}, func(t *testing.T, got []account.SessionEvent) {
			b, ok := got[0].(account.TemporaryBan)
			if !ok || b.Code != 101 || !strings.HasPrefix(b.Message, "you sent too many messages") {
				t.Fatalf("got %+v", got[0])
			}
			if d := time.Until(b.Until); d < 59*time.Minute || d > time.Hour {
				t.Fatalf("ban until %v, want about an hour from now", b.Until)
			}
		}, 1},
		{"temporary ban without expiry", &events.TemporaryBan{Code: 999}, func(t *testing.T, got []account.SessionEvent) {
			b := got[0].(account.TemporaryBan)
			if b.Code != 999 || !b.Until.IsZero() || !strings.Contains(b.Message, "unknown") {
				t.Fatalf("got %+v", b)
			}
		}, 1},
		{"connect failure", &events.ConnectFailure{Reason: events.ConnectFailureBadUserAgent, Message: "bad ua"}, func(t *testing.T, got []account.SessionEvent) {
			c, ok := got[0].(account.ConnectFailed)
			if !ok || c.Reason.Code != account.ReasonWAConnectFailure || !strings.Contains(c.Reason.Message, "409") || !strings.Contains(c.Reason.Message, "bad ua") {
				t.Fatalf("got %+v", got[0])
			}
		}, 1},
		{"client outdated", &events.ClientOutdated{}, func(t *testing.T, got []account.SessionEvent) {
			c, ok := got[0].(account.ConnectFailed)
			if !ok || c.Reason.Code != account.ReasonWAClientOutdated {
				t.Fatalf("got %+v", got[0])
			}
		}, 1},
		{"scanned without multi-device is only logged", &events.QRScannedWithoutMultidevice{}, nil, 0},
		{"stream error is only logged", &events.StreamError{Code: "500"}, nil, 0},
		{"events of other features are ignored", &events.Message{}, nil, 0},
		{"QR is handled by the QR channel", &events.QR{Codes: []string{"a"}}, nil, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := newTestManager(t, Options{})
			s, sink := newTestSession(t, m, own)
			s.handleEvent(c.evt)
			// A marker after the event shows where its domain events end.
			s.handleEvent(&events.StreamReplaced{})
			var got []account.SessionEvent
			for {
				evt := sink.next(t)
				if _, marker := evt.(account.StreamReplaced); marker && len(got) >= c.want {
					break
				}
				got = append(got, evt)
			}
			if len(got) != c.want {
				t.Fatalf("%T mapped to %d events %+v, want %d", c.evt, len(got), got, c.want)
			}
			if c.check != nil {
				c.check(t, got)
			}
		})
	}
}

func TestKeepAliveFailingTooLongDropsTheConnection(t *testing.T) {
	m := newTestManager(t, Options{KeepAliveGiveUp: time.Minute})
	s, sink := newTestSession(t, m, "15550100001:4@s.whatsapp.net")
	s.handleEvent(&events.KeepAliveTimeout{ErrorCount: 9, LastSuccess: time.Now().Add(-2 * time.Minute)})
	if k, ok := sink.next(t).(account.KeepAliveTimeout); !ok || k.ErrorCount != 9 {
		t.Fatalf("got %+v", k)
	}
	select {
	case <-s.connCtx.Done():
	default:
		t.Fatal("the connection was not dropped")
	}
	if s.ctx.Err() != nil {
		t.Fatal("the whole session was stopped, not just its connection")
	}
	// whatsmeow reports the closed socket; it carries the keep-alive reason.
	s.handleEvent(&events.Disconnected{})
	d, ok := sink.next(t).(account.Disconnected)
	if !ok || d.Reason.Code != account.ReasonWAKeepAliveTimeout {
		t.Fatalf("got %+v, want a disconnect for WA_KEEPALIVE_TIMEOUT", d)
	}
	// The next disconnect is an ordinary one again.
	s.handleEvent(&events.Disconnected{})
	if d := sink.next(t).(account.Disconnected); d.Reason.Code != account.ReasonWADisconnected {
		t.Fatalf("got %+v", d)
	}
}

func TestPairSuccessWithoutJIDUsesTheDeviceStore(t *testing.T) {
	m := newTestManager(t, Options{})
	s, sink := newTestSession(t, m, "15550100002:1@s.whatsapp.net")
	s.handleEvent(&events.PairSuccess{Platform: "ios"})
	p := sink.next(t).(account.Paired)
	if p.Device.PhoneNumber != "+15550100002" || p.Device.JID != "15550100002:1@s.whatsapp.net" {
		t.Fatalf("paired = %+v", p)
	}
}

func TestMissingPhoneNumberIsRetried(t *testing.T) {
	m := newTestManager(t, Options{PhoneRetryDelays: []time.Duration{time.Millisecond, time.Millisecond, time.Millisecond}})
	s, sink := newTestSession(t, m, "")
	var lookups atomic.Int32
	found := mustJID("15550100003:2@s.whatsapp.net")
	s.ownJID = func() *types.JID {
		// Pairing and the first retry see nothing; the second finds it.
		if lookups.Add(1) < 3 {
			return nil
		}
		return &found
	}
	s.handleEvent(&events.PairSuccess{})
	if p := sink.next(t).(account.Paired); p.Device.PhoneNumber != "" {
		t.Fatalf("paired = %+v", p)
	}
	got := sink.next(t)
	if f, ok := got.(account.PhoneNumberFound); !ok || f.PhoneNumber != "+15550100003" || f.Source != "retry" || f.JID != found.String() {
		t.Fatalf("got %+v, want the number found by the retry", got)
	}
	if d := s.deviceInfo(); d.PhoneNumber != "+15550100003" {
		t.Fatalf("session device = %+v", d)
	}
}

func TestPhoneNumberRetryGivesUpAndStartsAgainOnNextLogin(t *testing.T) {
	m := newTestManager(t, Options{PhoneRetryDelays: []time.Duration{time.Millisecond, time.Millisecond}})
	s, sink := newTestSession(t, m, "")
	for round := 0; round < 2; round++ {
		s.handleEvent(&events.Connected{})
		if c := sink.next(t).(account.Connected); c.Device.PhoneNumber != "" {
			t.Fatalf("connected = %+v", c)
		}
		if got := sink.next(t); got != (account.PhoneNumberMissing{Attempts: 2}) {
			t.Fatalf("round %d: got %+v, want PhoneNumberMissing after 2 attempts", round, got)
		}
	}
}
