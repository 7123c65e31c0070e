package supervisor_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"wagraph/internal/account"
	"wagraph/internal/apperr"
	"wagraph/internal/store"
	"wagraph/internal/supervisor"
)

// slowPairing is a Sessions whose pairings wait for the test before they
// return their first code, and which, like the real session manager, lets a
// newer start of an account replace (and so fail) an older one still
// starting. Logins and everything else go to the fake underneath.
type slowPairing struct {
	*fakeSessions
	entered chan supervisor.StartRequest
	release chan struct{}
	// failing, when set, holds a replaced start's failure until it is closed.
	failing chan struct{}

	mu       sync.Mutex
	starting map[string]chan struct{} // closed to fail the start in progress
	stopped  []string                 // session ids of sessions stopped
	current  map[string]string        // the running session id per account
}

func newSlowPairing(f *fakeSessions) *slowPairing {
	return &slowPairing{
		fakeSessions: f,
		entered:      make(chan supervisor.StartRequest, 4),
		release:      make(chan struct{}),
		starting:     map[string]chan struct{}{},
		current:      map[string]string{},
	}
}

func (p *slowPairing) Start(ctx context.Context, req supervisor.StartRequest) (account.SessionEvent, error) {
	if req.JID != "" {
		return p.fakeSessions.Start(ctx, req)
	}
	replaced := make(chan struct{})
	p.mu.Lock()
	if old := p.starting[req.AccountID]; old != nil {
		close(old)
	}
	p.starting[req.AccountID] = replaced
	p.current[req.AccountID] = req.SessionID
	p.mu.Unlock()
	p.entered <- req
	select {
	case <-p.release:
	case <-replaced:
		if p.failing != nil {
			<-p.failing
		}
		return nil, errors.New("session stopped before the first code")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.starting[req.AccountID] == replaced {
		delete(p.starting, req.AccountID)
	}
	return p.fakeSessions.Start(ctx, req)
}

func (p *slowPairing) Stop(ctx context.Context, accountID string) error {
	p.mu.Lock()
	if c := p.starting[accountID]; c != nil {
		close(c)
		delete(p.starting, accountID)
	}
	if id, ok := p.current[accountID]; ok {
		p.stopped = append(p.stopped, id)
		delete(p.current, accountID)
	}
	p.mu.Unlock()
	return p.fakeSessions.Stop(ctx, accountID)
}

func (p *slowPairing) running(accountID string) (string, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	id, ok := p.current[accountID]
	return id, ok
}

// newSlowPairingEnv is an env whose supervisor runs slowPairing sessions.
func newSlowPairingEnv(t *testing.T) (*env, *slowPairing) {
	t.Helper()
	e := newEnv(t, store.SQLite, account.Options{})
	if err := e.sup.Close(); err != nil {
		t.Fatal(err)
	}
	slow := newSlowPairing(e.sessions)
	e.svc = account.New(e.db, e.bus, e.opts)
	e.sup = supervisor.New(e.svc, func(sink supervisor.EventSink) supervisor.Sessions {
		e.sessions.mu.Lock()
		e.sessions.sink = sink
		e.sessions.mu.Unlock()
		return slow
	}, e.supOpts)
	if err := e.sup.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	sup := e.sup
	t.Cleanup(func() { _ = sup.Close() })
	return e, slow
}

type started struct {
	a   *account.Account
	err error
}

// Issue 9, defect 5: a double click on "start activation" made both calls
// fail, the later start replacing the earlier one, and the earlier one's
// failure stopping the later session.
func TestDoubleClickStartActivationGetsTheActivationInProgress(t *testing.T) {
	e, slow := newSlowPairingEnv(t)
	a := e.create("Double click")

	start := func() <-chan started {
		done := make(chan started, 1)
		go func() {
			got, err := e.sup.StartActivation(context.Background(), account.StartActivationInput{AccountID: a.ID, Method: account.MethodQR})
			done <- started{got, err}
		}()
		return done
	}
	first := start()
	<-slow.entered
	second := start()
	var secondResult *started
	select {
	case r := <-second:
		secondResult = &r
	case <-slow.entered:
		// The second click started a session of its own.
	}
	close(slow.release)
	r1 := <-first
	if secondResult == nil {
		r := <-second
		secondResult = &r
	}
	for i, r := range []started{r1, *secondResult} {
		if r.err != nil {
			t.Errorf("click %d: %v", i+1, r.err)
			continue
		}
		if r.a.Status != account.StatusAwaitingScan {
			t.Errorf("click %d returned %s, want AWAITING_SCAN", i+1, r.a.Status)
		}
	}
	got := e.wantStatus(a.ID, account.StatusAwaitingScan, account.ReasonActivationStarted)
	if got.Activation == nil || got.Activation.QR == nil {
		t.Fatalf("activation = %+v, want the first QR code", got.Activation)
	}
	if _, ok := slow.running(a.ID); !ok {
		t.Fatalf("no pairing session runs any more (stopped: %v)", slow.stopped)
	}
	if n := len(statuses(e.history(a.ID))); n != 2 {
		t.Fatalf("history has %d entries, want 2 (created, one activation started)", n)
	}
}

func TestStartActivationWithAnotherMethodWhileStartingIsInProgress(t *testing.T) {
	e, slow := newSlowPairingEnv(t)
	a := e.create("Changed mind")
	done := make(chan error, 1)
	go func() {
		_, err := e.sup.StartActivation(context.Background(), account.StartActivationInput{AccountID: a.ID, Method: account.MethodQR})
		done <- err
	}()
	<-slow.entered
	second := make(chan error, 1)
	go func() {
		_, err := e.sup.StartActivation(context.Background(), account.StartActivationInput{AccountID: a.ID, Method: account.MethodPairingCode, PhoneNumber: "+14155550123"})
		second <- err
	}()
	var err error
	select {
	case err = <-second:
	case <-slow.entered:
		close(slow.release)
		t.Fatalf("the second start replaced the one in progress (first: %v, second: %v)", <-done, <-second)
	}
	ae, ok := apperr.As(err)
	if !ok || ae.Code != apperr.ActivationInProgress || ae.Suggestion == "" || !ae.Retryable {
		t.Fatalf("second start = %v, want a retryable ACTIVATION_IN_PROGRESS with a suggestion", err)
	}
	close(slow.release)
	if err := <-done; err != nil {
		t.Fatalf("first start: %v", err)
	}
	// Once the code shows, another start replaces the activation as before.
	e.clock.Advance(time.Second)
	got, err := e.sup.StartActivation(context.Background(), account.StartActivationInput{AccountID: a.ID, Method: account.MethodPairingCode, PhoneNumber: "+14155550123"})
	if err != nil || got.Activation == nil || got.Activation.PairingCode == "" {
		t.Fatalf("restart with a pairing code = %+v, %v", got, err)
	}
}

// A start that fails must not stop the session that replaced it: here the
// first start is stopped by a reset, a new activation starts, and only then
// does the first one report its failure.
func TestFailedStartLeavesTheNewerSessionRunning(t *testing.T) {
	e, slow := newSlowPairingEnv(t)
	slow.failing = make(chan struct{})
	a := e.create("Reset mid-start")
	first := make(chan error, 1)
	go func() {
		_, err := e.sup.StartActivation(context.Background(), account.StartActivationInput{AccountID: a.ID, Method: account.MethodQR})
		first <- err
	}()
	<-slow.entered
	if _, err := e.sup.Reset(context.Background(), a.ID); err != nil {
		t.Fatal(err)
	}
	second := make(chan started, 1)
	go func() {
		got, err := e.sup.StartActivation(context.Background(), account.StartActivationInput{AccountID: a.ID, Method: account.MethodQR})
		second <- started{got, err}
	}()
	req := <-slow.entered
	close(slow.failing) // the first start reports its failure now
	if err := <-first; err == nil {
		t.Fatal("the first start, stopped by the reset, reported success")
	}
	close(slow.release)
	r := <-second
	if r.err != nil {
		t.Fatalf("the newer start failed: %v", r.err)
	}
	if id, ok := slow.running(a.ID); !ok || id != req.SessionID {
		t.Fatalf("running session = %q (%v), want the newer %q; stopped: %v", id, ok, req.SessionID, slow.stopped)
	}
	e.wantStatus(a.ID, account.StatusAwaitingScan, account.ReasonActivationStarted)
}
