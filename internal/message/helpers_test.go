package message_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/rs/zerolog"

	"wagraph/internal/account"
	"wagraph/internal/apperr"
	"wagraph/internal/contact"
	"wagraph/internal/jobs"
	"wagraph/internal/message"
	"wagraph/internal/pubsub"
	"wagraph/internal/ratelimit"
	"wagraph/internal/sending"
	"wagraph/internal/store"
)

const waitFor = 30 * time.Second

// sent is one message the fake WhatsApp took.
type sent struct {
	Account, To, Text, ID string
	At                    time.Time
}

// fakeSender is WhatsApp for the unit tests: every number is on WhatsApp
// except those in off; refuse makes sends fail with a server code; fail
// makes the next sends fail without an answer.
type fakeSender struct {
	mu        sync.Mutex
	sent      []sent
	attempts  []sent
	off       map[string]bool
	refuse    int
	fail      int
	notActive bool
	lookups   [][]string
	// delay is how long each send takes (outside the lock: accounts send
	// side by side).
	delay time.Duration
}

type serverError int

func (e serverError) Error() string   { return fmt.Sprintf("server returned error %d", int(e)) }
func (e serverError) ServerCode() int { return int(e) }

func (f *fakeSender) Send(_ context.Context, accountID, to, text, waID string) (message.SentResult, error) {
	f.mu.Lock()
	delay := f.delay
	f.mu.Unlock()
	time.Sleep(delay)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.notActive {
		return message.SentResult{}, apperr.New(apperr.AccountNotActive, "no live session")
	}
	s := sent{Account: accountID, To: to, Text: text, ID: waID, At: time.Now()}
	f.attempts = append(f.attempts, s)
	if f.refuse != 0 {
		return message.SentResult{}, serverError(f.refuse)
	}
	if f.fail > 0 {
		f.fail--
		return message.SentResult{}, errors.New("websocket not connected")
	}
	f.sent = append(f.sent, s)
	return message.SentResult{At: s.At}, nil
}

func (f *fakeSender) IsOnWhatsApp(_ context.Context, _ string, phones []string) (map[string]bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.notActive {
		return nil, apperr.New(apperr.AccountNotActive, "no live session")
	}
	f.lookups = append(f.lookups, phones)
	out := map[string]bool{}
	for _, p := range phones {
		out[p] = !f.off[p]
	}
	return out, nil
}

func (f *fakeSender) set(fn func(f *fakeSender)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

func (f *fakeSender) sends() []sent {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]sent(nil), f.sent...)
}

func (f *fakeSender) tries() []sent {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]sent(nil), f.attempts...)
}

// outcomes records what the worker reports (the pause helper's seam).
type outcomes struct {
	mu    sync.Mutex
	codes []int
}

func (o *outcomes) RecordSendResult(_ context.Context, _ string, code int) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.codes = append(o.codes, code)
	return nil
}

func (o *outcomes) all() []int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]int(nil), o.codes...)
}

// admitSpy records the newChat flag of every admission asked.
type admitSpy struct {
	*sending.Policy
	mu       sync.Mutex
	newChats []bool
}

func (a *admitSpy) Admit(ctx context.Context, accountID string, newChat bool) (sending.Admission, error) {
	a.mu.Lock()
	a.newChats = append(a.newChats, newChat)
	a.mu.Unlock()
	return a.Policy.Admit(ctx, accountID, newChat)
}

type harness struct {
	t        testing.TB
	db       *store.DB
	svc      *message.Service
	jobs     *jobs.Service
	contacts *contact.Service
	sender   *fakeSender
	outcomes *outcomes
	admit    *admitSpy
	bus      *pubsub.Memory
	account  string
	events   <-chan *river.Event
}

// generous are limits that never refuse in a test.
var generous = []ratelimit.Limit{{Max: 100_000, Window: time.Minute}}

func newHarness(t testing.TB, db *store.DB, limits []ratelimit.Limit, tune func(*message.Options)) *harness {
	t.Helper()
	ctx := context.Background()
	log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
	bus := pubsub.NewMemory(pubsub.Options{BufferSize: 4096})
	t.Cleanup(func() { _ = bus.Close() })
	acc, err := account.New(db, bus, account.Options{Logger: log}).Create(ctx, account.CreateInput{Name: "Sales"})
	if err != nil {
		t.Fatal(err)
	}
	policy, err := sending.New(db, ratelimit.NewMemory(), sending.Defaults{Limits: limits, NewChatsPerDay: 100_000}, sending.Options{})
	if err != nil {
		t.Fatal(err)
	}
	reg := jobs.NewRegistry()
	workers := 4
	if _, bench := t.(*testing.B); bench {
		workers = 50
	}
	js, err := jobs.New(db, reg, jobs.Options{Logger: log, Workers: workers, PollInterval: 20 * time.Millisecond, StopTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{
		t: t, db: db, jobs: js, sender: &fakeSender{off: map[string]bool{}}, outcomes: &outcomes{},
		admit: &admitSpy{Policy: policy}, contacts: contact.New(db, contact.Options{Logger: log}), bus: bus, account: acc.ID,
	}
	opts := message.Options{Logger: log, LookupInterval: time.Millisecond, NotActiveRetry: 100 * time.Millisecond}
	if tune != nil {
		tune(&opts)
	}
	h.svc = message.New(message.Deps{DB: db, Jobs: js, Bus: bus, Sender: h.sender, Admitter: h.admit, Outcomes: h.outcomes, Contacts: h.contacts}, opts)
	h.svc.RegisterJobs(reg)
	events, cancel := js.Client().Subscribe(river.EventKindJobCompleted, river.EventKindJobSnoozed, river.EventKindJobFailed, river.EventKindJobCancelled)
	t.Cleanup(cancel)
	h.events = events
	if err := js.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = js.Close() })
	return h
}

// until waits, as jobs finish, for cond to hold.
func (h *harness) until(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.After(waitFor)
	tick := time.NewTicker(100 * time.Millisecond) // events may be dropped under load; look now and then too
	defer tick.Stop()
	for !cond() {
		select {
		case <-h.events:
		case <-tick.C:
		case <-deadline:
			h.t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func (h *harness) message(id string) *message.Message {
	h.t.Helper()
	m, err := h.svc.Get(context.Background(), id)
	if err != nil {
		h.t.Fatal(err)
	}
	return m
}

func (h *harness) waitStatus(id string, want message.Status) *message.Message {
	h.t.Helper()
	var m *message.Message
	h.until(fmt.Sprintf("message %s to be %s", id, want), func() bool {
		m = h.message(id)
		return m.Status == want
	})
	return m
}

func (h *harness) addContact(phone, name string) *contact.Contact {
	h.t.Helper()
	c, _, err := h.contacts.Upsert(context.Background(), contact.Observation{Phone: phone, FullName: name, Source: contact.Source{Kind: contact.SourceManual}})
	if err != nil {
		h.t.Fatal(err)
	}
	return c
}
