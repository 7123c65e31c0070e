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
	"wagraph/internal/supervisor"
)

// pairingCodeLifetime is how long a pairing code can be used: WhatsApp keeps
// the login connection open while it rotates QR codes (60s, then five of
// 20s) and closes it when they run out.
const pairingCodeLifetime = 160 * time.Second

// Session is one account's live connection: a whatsmeow client, the cancel
// func of its loops, and the queue that hands its events, mapped to domain
// events, to the manager's sink in order.
type Session struct {
	m   *Manager
	ref account.SessionRef
	req supervisor.StartRequest
	cli *whatsmeow.Client
	log zerolog.Logger

	ctx      context.Context // the session's life: event delivery and retries
	cancel   context.CancelFunc
	connCtx  context.Context // the connection's life, a child of ctx
	dropConn context.CancelFunc
	queue    chan account.SessionEvent
	stopOnce sync.Once

	// ownJID reads the device's own JID from the store; tests replace it.
	ownJID func() *types.JID

	mu       sync.Mutex
	device   account.Device
	retrying bool // a phone number retry is running
	// dropReason, when set, names why wagraph dropped the connection itself,
	// for the Disconnected event whatsmeow raises next.
	dropReason *account.Reason
	// reachoutCheckedAt is when a refused send last asked for the reach-out
	// time-lock (bans.go).
	reachoutCheckedAt time.Time
}

// newSession builds the session of req and starts its event delivery; false
// once the manager is closed.
func (m *Manager) newSession(req supervisor.StartRequest, device *wastore.Device) (*Session, bool) {
	ctx, cancel := context.WithCancel(m.ctx)
	log := m.log.With().Str("account_id", req.AccountID).Str("session_id", req.SessionID).Logger()
	cli := whatsmeow.NewClient(device, NewWALogger(log.With().Str("component", "whatsmeow").Logger()))
	m.wrapStores(req.AccountID, cli)
	// The supervisor owns reconnecting, with jittered backoff and a cap.
	// (whatsmeow still handles the 515 restart after pairing by itself.)
	cli.EnableAutoReconnect = false
	cli.BackgroundEventCtx = ctx
	if m.opts.Simulator != nil {
		m.opts.Simulator.Configure(cli)
	}
	if m.opts.ConfigureClient != nil {
		m.opts.ConfigureClient(cli)
	}
	s := &Session{
		m: m, ref: req.SessionRef, req: req, cli: cli, log: log,
		ctx: ctx, cancel: cancel, queue: make(chan account.SessionEvent, 64),
	}
	s.connCtx, s.dropConn = context.WithCancel(ctx)
	s.ownJID = func() *types.JID { return cli.Store.ID }
	if device.ID != nil {
		s.device = deviceOf(device)
	}
	cli.AddEventHandler(s.handleEvent)
	if !m.spawn(s.deliverLoop) {
		cancel()
		return nil, false
	}
	return s, true
}

// spawn runs fn in a goroutine that Close waits for, unless the manager is
// closed. The WaitGroup is added to under the lock Close takes, so Close
// never waits for a goroutine that starts after it.
func (m *Manager) spawn(fn func()) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return false
	}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		fn()
	}()
	return true
}

// login connects with the stored device; Connected follows as an event.
func (s *Session) login() error {
	if err := s.cli.ConnectContext(s.connCtx); err != nil {
		return fmt.Errorf("whatsapp: connect: %w", err)
	}
	return nil
}

// pair connects without a device, waits for WhatsApp's first code and
// returns it (a QR code, or for PAIRING_CODE the code WhatsApp issues for
// the phone number), then keeps watching the QR channel in the background.
func (s *Session) pair(ctx context.Context) (account.SessionEvent, error) {
	// Not s.ctx itself: when that ends whatsmeow's QR channel calls
	// Client.Disconnect, which races its own read loop. Stopping the session
	// closes the socket instead, and that ends the QR channel too.
	qrs, err := s.cli.GetQRChannel(context.WithoutCancel(s.ctx))
	if err != nil {
		return nil, fmt.Errorf("whatsapp: open QR channel: %w", err)
	}
	if err := s.cli.ConnectContext(s.connCtx); err != nil {
		return nil, fmt.Errorf("whatsapp: connect for pairing: %w", err)
	}
	wait := time.NewTimer(s.m.opts.FirstCodeWait)
	defer wait.Stop()
	var first whatsmeow.QRChannelItem
	select {
	case item, ok := <-qrs:
		if !ok {
			return nil, errors.New("whatsapp: pairing ended before the first code")
		}
		first = item
	case <-s.ctx.Done():
		return nil, errors.New("whatsapp: session stopped before the first code")
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-wait.C:
		return nil, fmt.Errorf("whatsapp: no pairing code from WhatsApp within %v", s.m.opts.FirstCodeWait)
	}
	if first.Event != whatsmeow.QRChannelEventCode {
		return nil, fmt.Errorf("whatsapp: pairing did not start: %s", describeQRItem(first))
	}
	started := time.Now()
	var evt account.SessionEvent = account.QRCode{Code: first.Code, ExpiresAt: started.Add(first.Timeout)}
	if s.req.Method == account.MethodPairingCode {
		code, err := s.cli.PairPhone(ctx, strings.TrimPrefix(s.req.PhoneNumber, "+"), true, whatsmeow.PairClientChrome, s.m.opts.PairClientDisplayName)
		if err != nil {
			return nil, fmt.Errorf("whatsapp: request a pairing code: %w", err)
		}
		evt = account.PairingCode{Code: code, ExpiresAt: started.Add(pairingCodeLifetime)}
	}
	if !s.m.spawn(func() { s.watchQR(qrs) }) {
		return nil, ErrClosed
	}
	return evt, nil
}

// watchQR forwards the rotated QR codes and reports when they ran out. The
// other endings (success, pair error, outdated client) arrive as whatsmeow
// events and are mapped in handleEvent.
func (s *Session) watchQR(qrs <-chan whatsmeow.QRChannelItem) {
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
	for {
		select {
		case <-s.ctx.Done():
			return
		case evt := <-s.queue:
			if err := s.m.sink.HandleSessionEvent(s.m.ctx, s.ref, evt); err != nil {
				s.log.Error().Err(err).Str("event", fmt.Sprintf("%T", evt)).Msg("could not record a session event")
			}
		}
	}
}

// emit queues a domain event; after stop it is dropped.
func (s *Session) emit(evt account.SessionEvent) {
	select {
	case s.queue <- evt:
	case <-s.ctx.Done():
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
	done := func() {
		s.mu.Lock()
		s.retrying = false
		s.mu.Unlock()
	}
	if !s.m.spawn(func() { s.lookForPhoneNumber(done) }) {
		done()
	}
}

// lookForPhoneNumber is retryPhoneNumber's loop; it ends with the session.
func (s *Session) lookForPhoneNumber(done func()) {
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
