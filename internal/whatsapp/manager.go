// Package whatsapp is wagraph's seam over go.mau.fi/whatsmeow. Manager
// implements supervisor.Sessions: it keeps one Session per live account, each
// wrapping a *whatsmeow.Client, maps whatsmeow's events to the account
// package's domain events (events.go) and hands them, in order, to the event
// sink it was built with (the supervisor). Nothing outside this package (and
// the simulator) imports whatsmeow.
package whatsapp

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"go.mau.fi/whatsmeow"
	wastore "go.mau.fi/whatsmeow/store"
	"go.mau.fi/whatsmeow/store/sqlstore"
	"go.mau.fi/whatsmeow/types"

	"wagraph/internal/account"
	"wagraph/internal/supervisor"
)

// Options tune the Manager. Zero fields take defaults.
type Options struct {
	Logger zerolog.Logger
	// Simulator, when set, is where every client connects instead of
	// WhatsApp; the manager makes whatsmeow trust its certificate root.
	// Real mode leaves it nil.
	Simulator Simulator
	// ConfigureClient is called with every new client before it connects
	// (after the simulator's configuration); tests use it.
	ConfigureClient func(*whatsmeow.Client)
	// FirstCodeWait bounds how long Start waits for the first QR or pairing
	// code. Default 20s.
	FirstCodeWait time.Duration
	// PhoneRetryDelays are the waits between looks at the device store when
	// pairing reported no phone number (exponential, about a minute in all
	// by default).
	PhoneRetryDelays []time.Duration
	// KeepAliveGiveUp is how long keep-alives may fail before the connection
	// is dropped and handed to the reconnect backoff. Default 3m (whatsmeow's
	// own limit).
	KeepAliveGiveUp time.Duration
	// Pauses, when set, is where ban signals pause accounts' sending (bans.go).
	Pauses SendingPauses
	// PairClientDisplayName is how the link shows on the phone for pairing
	// codes; WhatsApp accepts only "Browser (OS)" forms. Default "Chrome (Linux)".
	PairClientDisplayName string
	// Inbound, when set, hears the sender of every incoming direct message
	// (send.go).
	Inbound InboundSink
	// LIDsLearned, when set, gets the LID → number (E.164) mappings each
	// account's client learns from WhatsApp (lidwatch.go).
	LIDsLearned func(ctx context.Context, accountID string, lidToPhone map[string]string)
	// LIDMap, when set, is every device's LID store instead of whatsmeow's
	// (the same table, written in batches: lidmap.go).
	LIDMap *LIDMap
}

func (o Options) withDefaults() Options {
	if o.FirstCodeWait <= 0 {
		o.FirstCodeWait = 20 * time.Second
	}
	if o.PhoneRetryDelays == nil {
		o.PhoneRetryDelays = []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 29 * time.Second}
	}
	if o.KeepAliveGiveUp <= 0 {
		o.KeepAliveGiveUp = whatsmeow.KeepAliveMaxFailTime
	}
	if o.PairClientDisplayName == "" {
		o.PairClientDisplayName = "Chrome (Linux)"
	}
	return o
}

// Manager runs the live whatsmeow clients, one Session per account.
type Manager struct {
	container *sqlstore.Container
	sink      supervisor.EventSink
	opts      Options
	log       zerolog.Logger

	ctx    context.Context // the manager's life; event delivery runs under it
	cancel context.CancelFunc
	wg     sync.WaitGroup

	// broken, when set, is why the manager cannot start sessions (a
	// simulator it cannot trust).
	broken error

	mu       sync.Mutex
	closed   bool
	sessions map[string]*Session // by account id
}

var _ supervisor.Sessions = (*Manager)(nil)

// ErrClosed is returned by Start after Close.
var ErrClosed = errors.New("whatsapp: session manager closed")

// NewManager returns a Manager whose devices live in container and whose
// sessions' events go to sink.
func NewManager(container *sqlstore.Container, sink supervisor.EventSink, opts Options) *Manager {
	opts = opts.withDefaults()
	var broken error
	if opts.Simulator != nil {
		broken = trustSimulatorRoot(opts.Simulator.RootPublicKey())
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Manager{
		container: container,
		sink:      sink,
		opts:      opts,
		log:       opts.Logger.With().Str("component", "whatsapp").Logger(),
		ctx:       ctx,
		cancel:    cancel,
		sessions:  make(map[string]*Session),
		broken:    broken,
	}
}

// Start implements supervisor.Sessions: with req.JID it logs in with that
// stored device, otherwise it connects for pairing and waits (up to
// FirstCodeWait or ctx) for the first QR code or pairing code, which it
// returns.
func (m *Manager) Start(ctx context.Context, req supervisor.StartRequest) (account.SessionEvent, error) {
	m.mu.Lock()
	closed := m.closed
	old := m.sessions[req.AccountID]
	delete(m.sessions, req.AccountID)
	m.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	if m.broken != nil {
		return nil, m.broken
	}
	if old != nil {
		old.stop()
	}
	device := m.container.NewDevice()
	if req.JID != "" {
		jid, err := types.ParseJID(req.JID)
		if err != nil {
			return nil, fmt.Errorf("%w: unreadable JID %q: %v", supervisor.ErrDeviceMissing, req.JID, err)
		}
		if device, err = m.container.GetDevice(ctx, jid); err != nil {
			return nil, fmt.Errorf("whatsapp: load device %s: %w", req.JID, err)
		}
		if device == nil {
			return nil, supervisor.ErrDeviceMissing
		}
	}
	s, ok := m.newSession(req, device)
	if !ok {
		return nil, ErrClosed
	}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		s.stop()
		return nil, ErrClosed
	}
	if prev := m.sessions[req.AccountID]; prev != nil {
		prev.stop() // a concurrent Start for the same account: last one wins
	}
	m.sessions[req.AccountID] = s
	m.mu.Unlock()

	var (
		first account.SessionEvent
		err   error
	)
	if req.JID != "" {
		err = s.login()
	} else {
		first, err = s.pair(ctx)
	}
	if err != nil {
		// Only this session: a newer one for the account may be running.
		m.remove(s)
		s.stop()
		return nil, err
	}
	return first, nil
}

// Stop implements supervisor.Sessions.
func (m *Manager) Stop(_ context.Context, accountID string) error {
	if s := m.take(accountID); s != nil {
		s.stop()
	}
	return nil
}

// Logout implements supervisor.Sessions: a logged-in session unlinks itself
// from WhatsApp (which also deletes the stored device); otherwise, or when
// that fails, the stored device is deleted locally.
func (m *Manager) Logout(ctx context.Context, accountID, jid string) error {
	if s := m.take(accountID); s != nil {
		if s.cli.IsLoggedIn() {
			if err := s.unlink(ctx); err != nil {
				s.log.Warn().Err(err).Msg("unlink from WhatsApp failed; deleting the local session only")
			}
		}
		s.stop()
	}
	return m.DeleteDevice(ctx, jid)
}

// DeleteDevice implements supervisor.Sessions.
func (m *Manager) DeleteDevice(ctx context.Context, jid string) error {
	device, err := m.device(ctx, jid)
	if err != nil || device == nil {
		return err
	}
	if err := m.container.DeleteDevice(ctx, device); err != nil {
		return fmt.Errorf("whatsapp: delete device %s: %w", jid, err)
	}
	return nil
}

// HasDevice implements supervisor.Sessions.
func (m *Manager) HasDevice(ctx context.Context, jid string) (bool, error) {
	device, err := m.device(ctx, jid)
	return device != nil, err
}

func (m *Manager) device(ctx context.Context, jid string) (*wastore.Device, error) {
	if jid == "" {
		return nil, nil
	}
	parsed, err := types.ParseJID(jid)
	if err != nil {
		return nil, nil // nothing can be stored under an unreadable JID
	}
	device, err := m.container.GetDevice(ctx, parsed)
	if err != nil {
		return nil, fmt.Errorf("whatsapp: load device %s: %w", jid, err)
	}
	return device, nil
}

// StoredDevice implements supervisor.Sessions: the device stored under
// jid, else the one whose LID is lid (whatsmeow stores devices by JID, so
// that is a scan of the devices, which only rows that lost their JID need).
func (m *Manager) StoredDevice(ctx context.Context, jid, lid string) (account.Device, error) {
	device, err := m.device(ctx, jid)
	if err != nil {
		return account.Device{}, err
	}
	if device == nil && lid != "" {
		want, perr := types.ParseJID(lid)
		if perr != nil {
			return account.Device{}, nil // nothing is stored under an unreadable LID
		}
		all, err := m.container.GetAllDevices(ctx)
		if err != nil {
			return account.Device{}, fmt.Errorf("whatsapp: list devices: %w", err)
		}
		for _, d := range all {
			if !d.LID.IsEmpty() && d.LID.ToNonAD() == want.ToNonAD() {
				device = d
				break
			}
		}
	}
	if device == nil || device.ID == nil {
		return account.Device{}, nil
	}
	return deviceOf(device), nil
}

// Live implements supervisor.Sessions.
func (m *Manager) Live(accountID string) (account.Device, bool) {
	m.mu.Lock()
	s := m.sessions[accountID]
	m.mu.Unlock()
	if s == nil {
		return account.Device{}, false
	}
	return s.deviceInfo(), s.cli.IsLoggedIn() && s.cli.IsConnected()
}

// Close disconnects every session and waits for their goroutines, until
// ctx ends. The devices stay stored, so the next start restores them.
func (m *Manager) Close(ctx context.Context) error {
	m.mu.Lock()
	m.closed = true
	sessions := m.sessions
	m.sessions = map[string]*Session{}
	m.mu.Unlock()
	for _, s := range sessions {
		s.stop()
	}
	m.cancel()
	done := make(chan struct{})
	go func() { // ends when the sessions' goroutines have, which m.cancel ends
		m.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("whatsapp: sessions still closing: %w", ctx.Err())
	}
}

// take removes and returns the account's session.
func (m *Manager) take(accountID string) *Session {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.sessions[accountID]
	delete(m.sessions, accountID)
	return s
}

// remove forgets s if it is still the account's session.
func (m *Manager) remove(s *Session) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.sessions[s.ref.AccountID] == s {
		delete(m.sessions, s.ref.AccountID)
	}
}
