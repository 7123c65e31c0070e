package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rs/zerolog"

	"wagraph/internal/account"
	"wagraph/internal/pubsub"
	"wagraph/internal/store"
	"wagraph/internal/supervisor"
	"wagraph/internal/wasim"
	"wagraph/internal/whatsapp"
)

// options configure one run of pairings.
type options struct {
	// N is how many accounts are linked, one after the other.
	N int
	// DatabaseURL is the database the accounts and devices are stored in; it
	// is migrated first.
	DatabaseURL string
	// Limit is how long one pairing may take from the scan; a pairing that
	// has no phone number or is not ACTIVE by then counts as failed.
	Limit time.Duration
	// RootKey signs the simulator's certificates; the caller has made
	// whatsmeow trust it (whatsmeow.WACertPubKey).
	RootKey [32]byte
	Log     zerolog.Logger
	// Progress, when set, is called after each pairing.
	Progress func(i int, p pairing)
}

// pairing is what one linking took. Durations are zero when the step did
// not happen within the limit.
type pairing struct {
	AccountID string
	// Start is startActivation until it returned with the first QR code.
	Start time.Duration
	// ToPhone is the scan until a status event carried the phone number.
	ToPhone time.Duration
	// ToActive is the scan until the account was ACTIVE.
	ToActive time.Duration
	// Phone is the account's phone number at the end; Want is the number of
	// the simulated phone that scanned.
	Phone, Want string
	Err         error
}

// ok reports whether the pairing met the target: the right phone number and
// ACTIVE, both within the limit.
func (p pairing) ok() bool {
	return p.Err == nil && p.ToPhone > 0 && p.ToActive > 0 && p.Phone == p.Want
}

// run links opts.N accounts through wagraph's real path (account.Service,
// whatsapp.Manager, unmodified whatsmeow) against an in-process simulator, as
// the server wires them, and reports each pairing. It fails only when the
// stack cannot be built; failed pairings are reported in their results.
func run(ctx context.Context, opts options) ([]pairing, error) {
	sim, err := wasim.Start(ctx, wasim.Options{RootKey: &opts.RootKey, Logger: opts.Log})
	if err != nil {
		return nil, err
	}
	defer sim.Close()
	db, err := store.Open(ctx, opts.DatabaseURL, store.Options{})
	if err != nil {
		return nil, err
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		return nil, err
	}
	bus := pubsub.NewMemory(pubsub.Options{BufferSize: 1024})
	defer bus.Close()
	container, err := whatsapp.OpenDeviceStore(ctx, db, opts.Log)
	if err != nil {
		return nil, err
	}
	accounts := account.New(db, bus, account.Options{Logger: opts.Log})
	sup := supervisor.New(accounts, func(sink supervisor.EventSink) supervisor.Sessions {
		return whatsapp.NewManager(container, sink, whatsapp.Options{Logger: opts.Log, Simulator: sim})
	}, supervisor.Options{Logger: opts.Log})
	if err := sup.Start(ctx); err != nil {
		_ = sup.Close()
		return nil, err
	}
	defer sup.Close() // closes the session manager too
	events, err := bus.Subscribe(ctx, string(account.AllStatusTopic))
	if err != nil {
		return nil, err
	}
	defer events.Close()

	b := bench{sim: sim, svc: accounts, sup: sup, events: events, limit: opts.Limit}
	out := make([]pairing, 0, opts.N)
	for i := range opts.N {
		if ctx.Err() != nil {
			return out, ctx.Err()
		}
		p := b.pairOne(ctx, fmt.Sprintf("pairing %d", i+1))
		out = append(out, p)
		if opts.Progress != nil {
			opts.Progress(i, p)
		}
	}
	return out, nil
}

type bench struct {
	sim    *wasim.Simulator
	svc    *account.Service
	sup    *supervisor.Supervisor
	events pubsub.Subscription
	limit  time.Duration
}

// pairOne creates an account, starts a QR activation, has a new simulated
// phone scan the first code and follows the status events until ACTIVE.
func (b bench) pairOne(ctx context.Context, name string) (p pairing) {
	a, err := b.svc.Create(ctx, account.CreateInput{Name: name})
	if err != nil {
		p.Err = err
		return p
	}
	p.AccountID = a.ID
	begin := time.Now()
	a, err = b.sup.StartActivation(ctx, account.StartActivationInput{AccountID: a.ID, Method: account.MethodQR})
	if err != nil {
		p.Err = err
		return p
	}
	p.Start = time.Since(begin)
	started := a.Version
	if a.Activation == nil || a.Activation.QR == nil {
		p.Err = errors.New("startActivation returned without a QR code")
		return p
	}

	scanned := time.Now()
	deadline := time.NewTimer(b.limit)
	defer deadline.Stop()
	phone, err := b.sim.ScanQR(ctx, a.Activation.QR.Code)
	if err != nil {
		p.Err = fmt.Errorf("scan: %w", err)
		return p
	}
	p.Want = phone.Number
	for p.ToActive == 0 {
		select {
		case m, open := <-b.events.C():
			if !open {
				p.Err = fmt.Errorf("status events ended: %w", b.events.Err())
				return p
			}
			ev, err := pubsub.Decode[account.StatusEvent](m)
			if err != nil || ev.AccountID != p.AccountID || ev.Version <= started {
				continue // another account's, or from before the activation
			}
			if ev.PhoneNumber != "" && p.ToPhone == 0 {
				p.ToPhone = time.Since(scanned)
			}
			switch {
			case ev.To == account.StatusActive:
				p.ToActive = time.Since(scanned)
			case !ev.To.Activating():
				p.Err = fmt.Errorf("went to %s (%s) instead of ACTIVE", ev.To, ev.Reason.Code)
				return p
			}
		case <-deadline.C:
			p.Err = fmt.Errorf("not ACTIVE within %v of the scan", b.limit)
			return p
		case <-ctx.Done():
			p.Err = ctx.Err()
			return p
		}
	}
	if got, err := b.svc.Get(ctx, p.AccountID); err != nil {
		p.Err = err
	} else {
		p.Phone = got.PhoneNumber
	}
	return p
}
