package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rs/zerolog"

	"wagraph/internal/account"
	"wagraph/internal/contact"
	"wagraph/internal/jobs"
	"wagraph/internal/live"
	"wagraph/internal/pubsub"
	"wagraph/internal/store"
	"wagraph/internal/supervisor"
	"wagraph/internal/wasim"
	"wagraph/internal/whatsapp"
)

// options configure one scrape run.
type options struct {
	// Groups of Members members each (the account itself not counted);
	// Overlap is the share of a group's members who are also in the next.
	Groups, Members int
	Overlap         float64
	// LIDEvery makes every LIDEvery-th group LID-addressed (0: none).
	LIDEvery int
	// Interval spaces the account's group calls (SCRAPE_GROUP_INTERVAL).
	Interval    time.Duration
	DatabaseURL string
	RootKey     [32]byte
	Log         zerolog.Logger
}

// result is what one scrape took.
type result struct {
	Setup    time.Duration // creating the groups in the simulator
	Scrape   time.Duration // scrapeGroups until DONE
	List     time.Duration // scrapeGroups until the group list is stored (all: true)
	Calls    int           // group queries WhatsApp answered
	Job      contact.ScrapeJob
	Contacts int
}

// run links an account through the real path (account.Service,
// whatsapp.Manager, unmodified whatsmeow, the simulator), puts it in the
// groups, and scrapes them all with the River job as the server does.
func run(ctx context.Context, opts options) (*result, error) {
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
	reg := jobs.NewRegistry()
	js, err := jobs.New(db, reg, jobs.Options{Logger: opts.Log, Workers: 2, PollInterval: 50 * time.Millisecond})
	if err != nil {
		return nil, err
	}
	contacts := contact.New(db, contact.Options{Logger: opts.Log})
	groups := contact.NewGroupService(contacts, bus, js, nil, contact.GroupOptions{Logger: opts.Log, Interval: opts.Interval})
	groups.RegisterJobs(reg)
	accounts := account.New(db, bus, account.Options{Logger: opts.Log})
	sup := supervisor.New(accounts, func(sink supervisor.EventSink) supervisor.Sessions {
		m := whatsapp.NewManager(container, sink, whatsapp.Options{Logger: opts.Log, Simulator: sim, LIDMap: whatsapp.NewLIDMap(db),
			LIDsLearned: func(ctx context.Context, id string, pairs map[string]string) {
				_, _ = groups.LIDsLearned(ctx, id, pairs)
			}})
		groups.SetWhatsApp(m)
		return m
	}, supervisor.Options{Logger: opts.Log})
	if err := sup.Start(ctx); err != nil {
		_ = sup.Close()
		return nil, err
	}
	defer sup.Close()
	if err := js.Start(ctx); err != nil {
		return nil, err
	}
	defer js.Close()

	acc, phone, err := link(ctx, accounts, sup, sim, bus)
	if err != nil {
		return nil, err
	}
	res := &result{}
	began := time.Now()
	step := max(1, int(float64(opts.Members)*(1-opts.Overlap)))
	for g := range opts.Groups {
		numbers := make([]string, opts.Members)
		for m := range numbers {
			numbers[m] = fmt.Sprintf("49151%08d", g*step+m) // valid German mobile numbers
		}
		mode := wasim.AddressingPN
		if opts.LIDEvery > 0 && g%opts.LIDEvery == opts.LIDEvery-1 {
			mode = wasim.AddressingLID
		}
		if _, err := sim.AddBigGroup(phone.JID, fmt.Sprintf("Group %04d", g), mode, numbers); err != nil {
			return nil, err
		}
	}
	res.Setup = time.Since(began)

	before := sim.GroupQueries(phone.JID)
	began = time.Now()
	job, err := groups.StartScrape(ctx, contact.ScrapeInput{AccountID: acc.ID, All: true})
	if err != nil {
		return nil, err
	}
	cur, err := groups.WatchScrape(ctx, job.ID)
	if err != nil {
		return nil, err
	}
	defer cur.Close()
	for {
		ev, err := cur.Next(ctx)
		if errors.Is(err, live.ErrEnd) {
			break
		}
		if err != nil {
			return nil, err
		}
		res.Job = ev.Value
		if res.List == 0 && res.Job.GroupsTotal > 0 {
			res.List = time.Since(began)
		}
	}
	res.Scrape = time.Since(began)
	res.Calls = sim.GroupQueries(phone.JID) - before
	res.Contacts, err = contacts.Count(ctx)
	if err != nil {
		return nil, err
	}
	if res.Job.State != contact.ScrapeDone {
		return res, fmt.Errorf("the scrape ended %s: %s", res.Job.State, res.Job.LastError)
	}
	return res, nil
}

// link creates an account and has a new simulated phone scan its first QR
// code; it returns once the account is ACTIVE.
func link(ctx context.Context, accounts *account.Service, sup *supervisor.Supervisor, sim *wasim.Simulator, bus pubsub.Bus) (*account.Account, *wasim.Phone, error) {
	events, err := bus.Subscribe(ctx, string(account.AllStatusTopic))
	if err != nil {
		return nil, nil, err
	}
	defer events.Close()
	a, err := accounts.Create(ctx, account.CreateInput{Name: "scraper"})
	if err != nil {
		return nil, nil, err
	}
	a, err = sup.StartActivation(ctx, account.StartActivationInput{AccountID: a.ID, Method: account.MethodQR})
	if err != nil {
		return nil, nil, err
	}
	if a.Activation == nil || a.Activation.QR == nil {
		return nil, nil, errors.New("startActivation returned without a QR code")
	}
	phone, err := sim.ScanQR(ctx, a.Activation.QR.Code)
	if err != nil {
		return nil, nil, err
	}
	deadline := time.After(time.Minute)
	for {
		select {
		case m, open := <-events.C():
			if !open {
				return nil, nil, fmt.Errorf("status events ended: %w", events.Err())
			}
			ev, err := pubsub.Decode[account.StatusEvent](m)
			if err != nil || ev.AccountID != a.ID {
				continue
			}
			if ev.To == account.StatusActive {
				return a, phone, nil
			}
		case <-deadline:
			return nil, nil, errors.New("the account was not ACTIVE within a minute")
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		}
	}
}
