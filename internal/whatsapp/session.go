package whatsapp

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"go.mau.fi/whatsmeow"
	waBinary "go.mau.fi/whatsmeow/binary"
	wastore "go.mau.fi/whatsmeow/store"
	"go.mau.fi/whatsmeow/types"

	"wagraph/internal/account"
)

// pairingCodeLifetime is how long a pairing code can be used: WhatsApp keeps
// the login connection open while it rotates QR codes (60s, then five of
// 20s) and closes it when they run out.
const pairingCodeLifetime = 160 * time.Second

// Session is one account's live connection: a whatsmeow client, the cancel
// func of its loops, and the queue that hands its events, mapped to domain
// events, to the account service in order.
type Session struct {
	m    *Manager
	ref  account.SessionRef
	req  account.StartRequest
	sink account.EventSink
	cli  *whatsmeow.Client
	log  zerolog.Logger

	ctx      context.Context // the session's life: event delivery and retries
	cancel   context.CancelFunc
	connCtx  context.Context // the connection's life, a child of ctx
	dropConn context.CancelFunc
	queue    chan queued
	stopOnce sync.Once

	// ownJID reads the device's own JID from the store; tests replace it.
	ownJID func() *types.JID

	mu       sync.Mutex
	device   account.Device
	retrying bool // a phone number retry is running
	// dropReason, when set, names why wagraph dropped the connection itself,
	// for the Disconnected event whatsmeow raises next.
	dropReason *account.Reason
}

type queued struct {
	evt       account.SessionEvent
	delivered chan struct{} // closed after the sink handled evt; may be nil
}

func (m *Manager) newSession(req account.StartRequest, sink account.EventSink, device *wastore.Device) *Session {
	ctx, cancel := context.WithCancel(m.ctx)
	log := m.log.With().Str("account_id", req.AccountID).Str("session_id", req.SessionID).Logger()
	cli := whatsmeow.NewClient(device, NewWALogger(log.With().Str("component", "whatsmeow").Logger()))
	// The account service owns reconnecting, with jittered backoff and a cap.
	// (whatsmeow still handles the 515 restart after pairing by itself.)
	cli.EnableAutoReconnect = false
	cli.BackgroundEventCtx = ctx
	if m.opts.ConfigureClient != nil {
		m.opts.ConfigureClient(cli)
	}
	s := &Session{
		m: m, ref: req.SessionRef, req: req, sink: sink, cli: cli, log: log,
		ctx: ctx, cancel: cancel, queue: make(chan queued, 64),
	}
	s.connCtx, s.dropConn = context.WithCancel(ctx)
	s.ownJID = func() *types.JID { return cli.Store.ID }
	if device.ID != nil {
		s.device = deviceOf(device)
	}
	cli.AddEventHandler(s.handleEvent)
	m.wg.Add(1)
	go s.deliverLoop()
	return s
}

// login connects with the stored device; Connected follows as an event.
func (s *Session) login() error {
	if err := s.cli.ConnectContext(s.connCtx); err != nil {
		return fmt.Errorf("whatsapp: connect: %w", err)
	}
	return nil
}

// pair connects without a device, waits for WhatsApp's first code and
// delivers it (a QR code, or for PAIRING_CODE the code WhatsApp issues for
// the phone number), then keeps watching the QR channel in the background.
func (s *Session) pair(ctx context.Context) error {
	// Not s.ctx itself: when that ends whatsmeow's QR channel calls
	// Client.Disconnect, which races its own read loop. Stopping the session
	// closes the socket instead, and that ends the QR channel too.
	qrs, err := s.cli.GetQRChannel(context.WithoutCancel(s.ctx))
	if err != nil {
		return fmt.Errorf("whatsapp: open QR channel: %w", err)
	}
	if err := s.cli.ConnectContext(s.connCtx); err != nil {
		return fmt.Errorf("whatsapp: connect for pairing: %w", err)
	}
	wait := time.NewTimer(s.m.opts.FirstCodeWait)
	defer wait.Stop()
	var first whatsmeow.QRChannelItem
	select {
	case item, ok := <-qrs:
		if !ok {
			return errors.New("whatsapp: pairing ended before the first code")
		}
		first = item
	case <-ctx.Done():
		return ctx.Err()
	case <-wait.C:
		return fmt.Errorf("whatsapp: no pairing code from WhatsApp within %v", s.m.opts.FirstCodeWait)
	}
	if first.Event != whatsmeow.QRChannelEventCode {
		return fmt.Errorf("whatsapp: pairing did not start: %s", describeQRItem(first))
	}
	started := time.Now()
	var evt account.SessionEvent = account.QRCode{Code: first.Code, ExpiresAt: started.Add(first.Timeout)}
	if s.req.Method == account.MethodPairingCode {
		code, err := s.cli.PairPhone(ctx, strings.TrimPrefix(s.req.PhoneNumber, "+"), true, whatsmeow.PairClientChrome, s.m.opts.PairClientDisplayName)
		if err != nil {
			return fmt.Errorf("whatsapp: request a pairing code: %w", err)
		}
		evt = account.PairingCode{Code: code, ExpiresAt: started.Add(pairingCodeLifetime)}
	}
	if err := s.emitAndWait(ctx, evt); err != nil {
		return err
	}
	s.m.wg.Add(1)
	go s.watchQR(qrs)
	return nil
}

// watchQR forwards the rotated QR codes and reports when they ran out. The
// other endings (success, pair error, outdated client) arrive as whatsmeow
// events and are mapped in handleEvent.
func (s *Session) watchQR(qrs <-chan whatsmeow.QRChannelItem) {
	defer s.m.wg.Done()
	for {
		select {
		case <-s.ctx.Done():
			return
		case item, ok := <-qrs:
			if !ok {
				return
			}
			switch {
			case item.Event == whatsmeow.QRChannelEventCode:
				if s.req.Method == account.MethodQR {
					s.emit(account.QRCode{Code: item.Code, ExpiresAt: time.Now().Add(item.Timeout)})
				}
			case item == whatsmeow.QRChannelTimeout:
				s.emit(account.CodesExhausted{})
			}
		}
	}
}

func describeQRItem(item whatsmeow.QRChannelItem) string {
	if item.Error != nil {
		return item.Event + ": " + item.Error.Error()
	}
	return item.Event
}

// deliverLoop hands queued events to the sink one at a time, in order. It
// runs under the manager's context, so an event whose handling stops this
// session (a logout, say) is still recorded completely.
func (s *Session) deliverLoop() {
	defer s.m.wg.Done()
	for {
		select {
		case <-s.ctx.Done():
			return
		case it := <-s.queue:
			if err := s.sink.HandleSessionEvent(s.m.ctx, s.ref, it.evt); err != nil {
				s.log.Error().Err(err).Str("event", fmt.Sprintf("%T", it.evt)).Msg("account service could not record a session event")
			}
			if it.delivered != nil {
				close(it.delivered)
			}
		}
	}
}

// emit queues a domain event; after stop it is dropped.
func (s *Session) emit(evt account.SessionEvent) {
	select {
	case s.queue <- queued{evt: evt}:
	case <-s.ctx.Done():
	}
}

// emitAndWait queues evt and waits until the sink has handled it.
func (s *Session) emitAndWait(ctx context.Context, evt account.SessionEvent) error {
	it := queued{evt: evt, delivered: make(chan struct{})}
	select {
	case s.queue <- it:
	case <-s.ctx.Done():
		return errors.New("whatsapp: session stopped")
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-it.delivered:
		return nil
	case <-s.ctx.Done():
		return errors.New("whatsapp: session stopped")
	case <-ctx.Done():
		return ctx.Err()
	}
}

// stop ends the session: its loops, its connection, its event delivery.
// It does not wait, so the account service may call it while handling one
// of this session's events.
//
// The connection is closed by cancelling the context it was opened with, not
// by Client.Disconnect: whatsmeow's Disconnect writes its socket's closed
// flag while the read loop reads it without a lock (a data race the race
// detector reports); a cancelled context ends the read loop from inside.
func (s *Session) stop() {
	s.stopOnce.Do(s.cancel)
}

// drop closes the connection but keeps the session, so the Disconnected
// event whatsmeow raises for it is delivered with reason r.
func (s *Session) drop(r account.Reason) {
	s.mu.Lock()
	s.dropReason = &r
	s.mu.Unlock()
	s.dropConn()
}

// unlink asks WhatsApp to remove this companion device, as Client.Logout
// does, but without Logout's Disconnect (see stop); the caller stops the
// session and deletes the stored device.
func (s *Session) unlink(ctx context.Context) error {
	jid, err := types.ParseJID(s.deviceInfo().JID)
	if err != nil || jid.IsEmpty() {
		return errors.New("whatsapp: the session does not know its own JID")
	}
	_, err = s.cli.DangerousInternals().SendIQ(ctx, whatsmeow.DangerousInfoQuery{
		Namespace: "md",
		Type:      "set",
		To:        types.ServerJID,
		Content: []waBinary.Node{{
			Tag:   "remove-companion-device",
			Attrs: waBinary.Attrs{"jid": jid, "reason": "user_initiated"},
		}},
	})
	if err != nil {
		return fmt.Errorf("whatsapp: unlink device: %w", err)
	}
	return nil
}

func (s *Session) setDevice(d account.Device) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.device = d
}

func (s *Session) deviceInfo() account.Device {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.device
}

// retryPhoneNumber looks at the device store again, with growing delays,
// when the phone number was missing at pairing or login, and reports what it
// found (or that it gave up) as an event.
func (s *Session) retryPhoneNumber() {
	s.mu.Lock()
	if s.retrying {
		s.mu.Unlock()
		return
	}
	s.retrying = true
	s.mu.Unlock()
	s.m.wg.Add(1)
	done := func() {
		s.mu.Lock()
		s.retrying = false
		s.mu.Unlock()
	}
	go func() {
		defer s.m.wg.Done()
		delays := s.m.opts.PhoneRetryDelays
		for _, d := range delays {
			t := time.NewTimer(d)
			select {
			case <-s.ctx.Done():
				t.Stop()
				done()
				return
			case <-t.C:
			}
			if id := s.ownJID(); id != nil {
				if phone := account.PhoneFromJID(id.String()); phone != "" {
					d := s.deviceInfo()
					d.JID, d.PhoneNumber = id.String(), phone
					s.setDevice(d)
					done()
					s.emit(account.PhoneNumberFound{PhoneNumber: phone, JID: id.String(), Source: "retry"})
					return
				}
			}
		}
		done()
		s.emit(account.PhoneNumberMissing{Attempts: len(delays)})
	}()
}

// deviceOf describes a stored whatsmeow device.
func deviceOf(d *wastore.Device) account.Device {
	out := account.Device{PushName: d.PushName, Platform: d.Platform, BusinessName: d.BusinessName}
	if d.ID != nil {
		out.JID = d.ID.String()
		out.PhoneNumber = account.PhoneFromJID(out.JID)
	}
	if !d.LID.IsEmpty() {
		out.LID = d.LID.String()
	}
	return out
}
