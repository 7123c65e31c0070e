package app

import (
	"context"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"wagraph/internal/account"
	"wagraph/internal/apperr"
	"wagraph/internal/pubsub"
	"wagraph/internal/wasim"
)

// demoPhone is the person with a phone in simulate mode: it watches for
// accounts entering AWAITING_SCAN and, after the scan delay, scans the
// account's current QR code with a new simulated phone (a fresh number), or
// types the pairing code on the simulated phone with the requested number.
// It works only through the account service, the bus and the simulator, as
// a user and their phone would, so the demo runs wagraph's real path.
type demoPhone struct {
	sim      *wasim.Simulator
	accounts *account.Service
	bus      pubsub.Bus
	delay    time.Duration
	log      zerolog.Logger

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	pending map[string]*demoScan // by account id
}

// demoScan is one scheduled link of an account's activation, identified by
// the account's status version when it entered AWAITING_SCAN.
type demoScan struct {
	version int64
	cancel  context.CancelFunc
}

const (
	// demoAttempts bounds how often the phone tries one activation's codes.
	demoAttempts = 5
	// demoRetry is the wait between attempts when no new code arrives.
	demoRetry = 2 * time.Second
	// demoLinkTimeout bounds one scan or pairing-code entry.
	demoLinkTimeout = 30 * time.Second
)

// startDemoPhone starts the simulated phone; Close stops it first, before
// the sessions and the simulator.
func (a *App) startDemoPhone() {
	d := &demoPhone{
		sim:      a.Simulator,
		accounts: a.Accounts,
		bus:      a.Bus,
		delay:    a.Config.SimulateScanDelay,
		log:      a.Log.With().Str("component", "demo-phone").Logger(),
		pending:  map[string]*demoScan{},
	}
	d.ctx, d.cancel = context.WithCancel(context.Background())
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		d.watch()
	}()
	a.closers = append(a.closers, func() error {
		d.cancel()
		d.wg.Wait()
		return nil
	})
}

// watch follows the status events of all accounts for as long as the phone
// runs. Each (re)subscription first picks up the accounts already waiting
// for a scan, so none is missed at start or after the bus cut the
// subscription off.
func (d *demoPhone) watch() {
	for d.ctx.Err() == nil {
		sub, err := d.bus.Subscribe(d.ctx, string(account.AllStatusTopic))
		if err != nil {
			d.log.Warn().Err(err).Msg("cannot watch account statuses; retrying")
			d.pause(demoRetry)
			continue
		}
		d.scheduleWaiting()
		for m := range sub.C() {
			ev, err := pubsub.Decode[account.StatusEvent](m)
			if err != nil {
				d.log.Warn().Err(err).Msg("unreadable status event")
				continue
			}
			if ev.To == account.StatusAwaitingScan {
				d.schedule(ev.AccountID, ev.Version)
			}
		}
		if err := sub.Err(); err != nil && d.ctx.Err() == nil {
			d.log.Warn().Err(err).Msg("status subscription ended; resubscribing")
		}
		sub.Close()
	}
}

// scheduleWaiting schedules every account currently in AWAITING_SCAN.
func (d *demoPhone) scheduleWaiting() {
	first := account.MaxPageSize
	in := account.ListInput{First: &first, Statuses: []account.Status{account.StatusAwaitingScan}}
	for {
		page, err := d.accounts.List(d.ctx, in)
		if err != nil {
			if d.ctx.Err() == nil {
				d.log.Warn().Err(err).Msg("cannot list accounts awaiting a scan")
			}
			return
		}
		for _, a := range page.Accounts {
			d.schedule(a.ID, a.Version)
		}
		if !page.HasNextPage || len(page.Accounts) == 0 {
			return
		}
		in.AfterID = page.Accounts[len(page.Accounts)-1].ID
	}
}

// schedule links the account's activation after the delay, replacing a
// scan scheduled for an earlier activation of the same account.
func (d *demoPhone) schedule(id string, version int64) {
	d.mu.Lock()
	if prev := d.pending[id]; prev != nil {
		if prev.version == version {
			d.mu.Unlock()
			return // the same activation, seen again after a resubscription
		}
		prev.cancel()
	}
	ctx, cancel := context.WithCancel(d.ctx)
	scan := &demoScan{version: version, cancel: cancel}
	d.pending[id] = scan
	d.mu.Unlock()

	d.wg.Add(1) // watch holds the group, so Close's Wait cannot have returned
	go func() {
		defer d.wg.Done()
		defer func() {
			cancel()
			d.mu.Lock()
			if d.pending[id] == scan {
				delete(d.pending, id)
			}
			d.mu.Unlock()
		}()
		d.link(ctx, id, version)
	}()
}

// link waits for the delay, then scans the current code of the activation
// that began at version. It stops as soon as the account has moved on.
func (d *demoPhone) link(ctx context.Context, id string, version int64) {
	log := d.log.With().Str("account_id", id).Logger()
	if !sleep(ctx, d.delay) {
		return
	}
	// New codes arrive on the QR topic; subscribing before reading the
	// account means none is missed between the two.
	codes, err := d.bus.Subscribe(ctx, string(account.QRTopic(id)))
	if err != nil {
		log.Warn().Err(err).Msg("the simulated phone cannot watch the account's codes")
		return
	}
	defer codes.Close()
	gone := func() { // the code subscription ended: say so unless stopping
		if ctx.Err() == nil {
			log.Warn().Err(codes.Err()).Msg("the simulated phone lost the account's codes; start the activation again")
		}
	}
	for attempt := 0; attempt < demoAttempts; {
		a, err := d.accounts.Get(ctx, id)
		switch {
		case ctx.Err() != nil || apperr.CodeOf(err) == apperr.NotFound:
			return
		case err != nil:
			log.Warn().Err(err).Msg("the simulated phone cannot read the account")
			attempt++
			if !d.nextCode(ctx, codes) {
				gone()
				return
			}
			continue
		case a.Status != account.StatusAwaitingScan || a.Version != version || a.Activation == nil:
			return // linked, reset or restarted meanwhile; a newer activation has its own scan
		}
		if !hasCode(a.Activation) {
			if !waitCode(ctx, codes) {
				gone()
				return
			}
			continue
		}
		if err := d.enter(ctx, log, a.Activation); err != nil {
			attempt++
			log.Warn().Err(err).Int("attempt", attempt).Msg("the simulated phone could not link; trying the current code again")
			if !d.nextCode(ctx, codes) {
				gone()
				return
			}
			continue
		}
		return
	}
	log.Warn().Int("attempts", demoAttempts).Msg("the simulated phone gave up on this activation; start it again")
}

// hasCode reports whether the activation's first code has arrived.
func hasCode(act *account.Activation) bool {
	if act.Method == account.MethodPairingCode {
		return act.PairingCode != ""
	}
	return act.QR != nil && act.QR.Code != ""
}

// enter scans the QR code with a new phone or types the pairing code on the
// phone with the activation's number.
func (d *demoPhone) enter(ctx context.Context, log zerolog.Logger, act *account.Activation) error {
	ctx, cancel := context.WithTimeout(ctx, demoLinkTimeout)
	defer cancel()
	if act.Method == account.MethodPairingCode {
		if err := d.sim.PairWithCode(ctx, act.PhoneNumber, act.PairingCode); err != nil {
			return err
		}
		log.Info().Str("phone", act.PhoneNumber).Msg("the simulated phone entered the pairing code")
		d.addDemoGroups(log, act.PhoneNumber)
		return nil
	}
	phone, err := d.sim.ScanQR(ctx, act.QR.Code)
	if err != nil {
		return err
	}
	log.Info().Str("phone", phone.Number).Msg("a simulated phone scanned the QR code")
	d.addDemoGroups(log, phone.Number)
	return nil
}

// waitCode waits for the next event on the account's QR topic. It is false
// when ctx ended or the subscription did.
func waitCode(ctx context.Context, codes pubsub.Subscription) bool {
	select {
	case _, ok := <-codes.C():
		return ok
	case <-ctx.Done():
		return false
	}
}

// nextCode waits for a new code or, at most, demoRetry.
func (d *demoPhone) nextCode(ctx context.Context, codes pubsub.Subscription) bool {
	t := time.NewTimer(demoRetry)
	defer t.Stop()
	select {
	case _, ok := <-codes.C():
		return ok
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// pause waits d, or less when the phone stops.
func (d *demoPhone) pause(wait time.Duration) { sleep(d.ctx, wait) }

// sleep waits for wait and reports whether ctx is still alive.
func sleep(ctx context.Context, wait time.Duration) bool {
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
