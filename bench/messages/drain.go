package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime/pprof"
	"runtime/trace"
	"syscall"
	"time"

	"github.com/rs/zerolog"
	"github.com/uptrace/bun"
	"go.mau.fi/whatsmeow/types"

	"wagraph/internal/account"
	"wagraph/internal/contact"
	"wagraph/internal/jobs"
	"wagraph/internal/message"
	"wagraph/internal/pubsub"
	"wagraph/internal/ratelimit"
	"wagraph/internal/sending"
	"wagraph/internal/store"
	"wagraph/internal/supervisor"
	"wagraph/internal/wasim"
	"wagraph/internal/whatsapp"
)

// options configure one run.
type options struct {
	// Accounts are linked first; each queues one batch to the same
	// Recipients contacts, so Accounts × Recipients messages drain.
	Accounts   int
	Recipients int
	// Workers is how many jobs of River's default queue run at once
	// (JOB_WORKERS); LaneWorkers how many of each send lane
	// (SEND_LANE_WORKERS).
	Workers, LaneWorkers int
	DatabaseURL          string
	// Pool caps the database pool (0: the store's default per dialect).
	Pool int
	// RootKey signs the simulator's certificates (whatsmeow trusts one root
	// per process).
	RootKey [32]byte
	Log     zerolog.Logger
	// Profile, when set, gets a CPU profile of the drain; Trace an
	// execution trace (where the send jobs wait: go tool trace).
	Profile, Trace io.Writer
}

// result is what one run measured.
type result struct {
	Messages int
	// Queue is how long queueMessages took for all the batches.
	Queue time.Duration
	// Drain is from starting the workers until every message was SENT.
	Drain time.Duration
	// Sent counts SENT messages; Delivered the messages the simulated
	// phones decrypted.
	Sent, Delivered int
	// CPU is the process's CPU time (user and system) during the drain:
	// wagraph and the simulator together.
	CPU time.Duration
}

func (r result) rate() float64 { return float64(r.Sent) / r.Drain.Seconds() }

// run links the accounts through wagraph's real path (account.Service,
// whatsapp.Manager, unmodified whatsmeow) against the simulator, queues
// one batch per account with limits raised out of the way, and measures
// how fast the send workers drain them.
func run(ctx context.Context, opts options) (result, error) {
	var res result
	sim, err := wasim.Start(ctx, wasim.Options{RootKey: &opts.RootKey, Logger: opts.Log})
	if err != nil {
		return res, err
	}
	defer sim.Close()
	db, err := store.Open(ctx, opts.DatabaseURL, store.Options{MaxOpenConns: opts.Pool})
	if err != nil {
		return res, err
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		return res, err
	}
	bus := pubsub.NewMemory(pubsub.Options{BufferSize: 1 << 16})
	defer bus.Close()
	container, err := whatsapp.OpenDeviceStore(ctx, db, opts.Log)
	if err != nil {
		return res, err
	}
	accounts := account.New(db, bus, account.Options{Logger: opts.Log})
	var mgr *whatsapp.Manager
	sup := supervisor.New(accounts, func(sink supervisor.EventSink) supervisor.Sessions {
		mgr = whatsapp.NewManager(container, sink, whatsapp.Options{Logger: opts.Log, Simulator: sim, LIDMap: whatsapp.NewLIDMap(db)})
		return mgr
	}, supervisor.Options{Logger: opts.Log})
	if err := sup.Start(ctx); err != nil {
		_ = sup.Close()
		return res, err
	}
	defer sup.Close()
	events, err := bus.Subscribe(ctx, string(account.AllStatusTopic))
	if err != nil {
		return res, err
	}
	defer events.Close()

	var linked []*account.Account
	for i := range opts.Accounts {
		a, err := link(ctx, accounts, sup, sim, events, fmt.Sprintf("bench %d", i+1))
		if err != nil {
			return res, fmt.Errorf("link account %d: %w", i+1, err)
		}
		linked = append(linked, a)
	}

	// The recipients: phones with numbers libphonenumber accepts (the
	// simulator adopts a group's members as phones), one persona.
	contacts := contact.New(db, contact.Options{Logger: opts.Log})
	persona, err := contacts.CreatePersona(ctx, "bench", "")
	if err != nil {
		return res, err
	}
	owner, err := types.ParseJID(linked[0].JID)
	if err != nil {
		return res, err
	}
	var members []wasim.Participant
	var obs []contact.Observation
	for i := range opts.Recipients {
		n := fmt.Sprintf("49151%08d", i+1)
		members = append(members, wasim.Participant{Phone: types.NewJID(n, types.DefaultUserServer)})
		obs = append(obs, contact.Observation{Phone: "+" + n, FullName: fmt.Sprintf("Person %d", i+1)})
	}
	if _, err := sim.AddGroup(owner.ToNonAD(), wasim.GroupSpec{Name: "recipients", Participants: members}); err != nil {
		return res, err
	}
	if _, err := contacts.ImportList(ctx, contact.ImportListInput{Contacts: obs, PersonaIDs: []string{persona.ID}}); err != nil {
		return res, err
	}

	policy, err := sending.New(db, ratelimit.NewMemory(), sending.Defaults{
		Limits: []ratelimit.Limit{{Max: ratelimit.MaxPerWindow, Window: time.Minute}}, NewChatsPerDay: ratelimit.MaxPerWindow,
	}, sending.Options{})
	if err != nil {
		return res, err
	}
	reg := jobs.NewRegistry()
	js, err := jobs.New(db, reg, jobs.Options{Logger: opts.Log, Workers: opts.Workers})
	if err != nil {
		return res, err
	}
	svc := message.New(message.Deps{DB: db, Jobs: js, Bus: bus, Sender: mgr, Admitter: policy, Contacts: contacts},
		message.Options{Logger: opts.Log, LookupInterval: 100 * time.Millisecond, LaneWorkers: opts.LaneWorkers})
	svc.RegisterJobs(reg)

	began := time.Now()
	var batches []string
	for _, a := range linked {
		b, err := svc.Queue(ctx, message.QueueInput{AccountID: a.ID, Recipients: contact.Selection{Filter: &contact.Filter{PersonaID: persona.ID}}, Text: "Hello {{name}}"})
		if err != nil {
			return res, err
		}
		batches = append(batches, b.ID)
		res.Messages += b.Total
	}
	res.Queue = time.Since(began)

	if opts.Profile != nil {
		if err := pprof.StartCPUProfile(opts.Profile); err != nil {
			return res, err
		}
		defer pprof.StopCPUProfile()
	}
	if opts.Trace != nil {
		if err := trace.Start(opts.Trace); err != nil {
			return res, err
		}
		defer trace.Stop()
	}
	began = time.Now()
	cpuBefore := cpuTime()
	if err := js.Start(ctx); err != nil {
		return res, err
	}
	defer js.Close()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for res.Sent < res.Messages {
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case <-tick.C:
		}
		// One query for all the batches' counts per tick: asking for each
		// batch (50 queries every 50 ms) cost the drain 4% of its CPU on
		// SQLite and 15% on Postgres.
		var sent, failed int
		err := db.NewSelect().Table("message_batches").
			ColumnExpr("COALESCE(SUM(sent), 0)").ColumnExpr("COALESCE(SUM(failed), 0)").
			Where("id IN (?)", bun.In(batches)).Scan(ctx, &sent, &failed)
		if err != nil {
			return res, err
		}
		if failed > 0 {
			return res, fmt.Errorf("%d messages failed", failed)
		}
		res.Sent = sent
	}
	res.Drain = time.Since(began)
	res.CPU = cpuTime() - cpuBefore
	for _, m := range members {
		res.Delivered += len(sim.SentTo(m.Phone))
	}
	return res, nil
}

// link creates an account, has a new simulated phone scan its first QR
// code and waits until it is ACTIVE.
func link(ctx context.Context, svc *account.Service, sup *supervisor.Supervisor, sim *wasim.Simulator, events pubsub.Subscription, name string) (*account.Account, error) {
	a, err := svc.Create(ctx, account.CreateInput{Name: name})
	if err != nil {
		return nil, err
	}
	a, err = sup.StartActivation(ctx, account.StartActivationInput{AccountID: a.ID, Method: account.MethodQR})
	if err != nil {
		return nil, err
	}
	if a.Activation == nil || a.Activation.QR == nil {
		return nil, errors.New("startActivation returned without a QR code")
	}
	if _, err := sim.ScanQR(ctx, a.Activation.QR.Code); err != nil {
		return nil, err
	}
	deadline := time.After(time.Minute)
	for {
		select {
		case m, open := <-events.C():
			if !open {
				return nil, fmt.Errorf("status events ended: %w", events.Err())
			}
			ev, err := pubsub.Decode[account.StatusEvent](m)
			if err != nil || ev.AccountID != a.ID {
				continue
			}
			if ev.To == account.StatusActive {
				return svc.Get(ctx, a.ID)
			}
		case <-deadline:
			return nil, errors.New("not ACTIVE within a minute of the scan")
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// cpuTime is the CPU time the process has used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
