package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"wagraph/internal/apptest"
	"wagraph/internal/store"
	"wagraph/internal/store/storetest"
	"wagraph/internal/testenv"
	"wagraph/internal/testproc"
)

// Two wagraph processes share one Postgres database and one Redis. A
// mutation on the first reaches a subscriber on the second; Redis is then
// killed and restarted, and delivery resumes on the same websocket without
// the client doing anything, including the change made during the outage.
func TestTwoProcessesShareLiveViewsThroughRedis(t *testing.T) {
	dbURL := storetest.URL(t, store.Postgres)
	redis := testenv.StartRedis(t)
	bin := buildWagraph(t)
	env := []string{"DATABASE_URL=" + dbURL, "REDIS_URL=" + redis.URL(), "LOG_FORMAT=json", "LOG_LEVEL=info"}

	command(t, bin, env, "migrate")
	operator := strings.TrimSpace(command(t, bin, env, "token", "create", "--role", "OPERATOR", "--name", "e2e-operator"))
	viewer := strings.TrimSpace(command(t, bin, env, "token", "create", "--role", "VIEWER", "--name", "e2e-viewer"))
	first := startProcess(t, bin, env)
	second := startProcess(t, bin, env)

	// An account made before the subscription: its snapshot event tells
	// that the second process has subscribed to the bus.
	known := first.createAccount(t, operator, "Made before the subscription")
	sub := subscribeStatus(t, second, viewer, known)
	id := first.createAccount(t, operator, "Made on the first")
	if ev := sub.next(t, 10*time.Second); ev.AccountID != id || ev.Version != 1 || ev.Snapshot {
		t.Fatalf("the second process's subscriber got %+v, want the creation of %s", ev, id)
	}
	first.reset(t, operator, id)
	if ev := sub.next(t, 10*time.Second); ev.AccountID != id || ev.Version != 2 {
		t.Fatalf("after a reset on the first process: %+v, want version 2", ev)
	}

	// Redis crashes; a change made meanwhile cannot be published (pub/sub
	// keeps no history). Once Redis is back, the second process's bus
	// reconnects, and its subscription reloads the state and sends what
	// changed: on the websocket opened before, without another change.
	redis.Kill(t)
	during := first.reset(t, operator, id)
	redis.Start(t)
	if ev := sub.next(t, 30*time.Second); ev.AccountID != id || ev.Version != during || !ev.Snapshot {
		t.Fatalf("after the Redis restart: %+v, want the change made during the outage (version %d) from a reloaded snapshot", ev, during)
	}
	// And changes flow again as they happen, published on the first process.
	after := first.reset(t, operator, id)
	if ev := sub.next(t, 10*time.Second); ev.AccountID != id || ev.Version != after || ev.Snapshot {
		t.Fatalf("a change after the restart: %+v, want version %d", ev, after)
	}
	if err := sub.closed(); err != nil {
		t.Fatalf("the subscription ended: %v", err)
	}
}

// buildWagraph builds the server binary from the module root.
func buildWagraph(t *testing.T) string {
	t.Helper()
	testenv.LookPath(t, "go")
	bin, err := testproc.Build(t.Context(), "..", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// command runs a wagraph subcommand to completion and returns its stdout.
func command(t *testing.T, bin string, env []string, args ...string) string {
	t.Helper()
	out, err := testproc.Command(t.Context(), bin, env, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// baseEnv is what a process needs from the test's environment
// (testproc.Env).
func baseEnv() []string { return testproc.Env() }

// process is a running `wagraph serve`, stopped when the test ends.
type process struct{ *testproc.Server }

func startProcess(t *testing.T, bin string, env []string) *process {
	t.Helper()
	s, err := testproc.StartServer(t.Context(), bin, env, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = s.Stop(20 * time.Second)
		if t.Failed() {
			t.Logf("wagraph on %s logged:\n%s", s.Base, s.Logs)
		}
	})
	return &process{s}
}

// post sends a GraphQL operation and returns its data, failing on errors.
func (p *process) post(t *testing.T, token, query string) map[string]any {
	t.Helper()
	data, err := p.Post(t.Context(), token, query)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func (p *process) createAccount(t *testing.T, token, name string) string {
	t.Helper()
	id, err := p.CreateAccount(t.Context(), token, name)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// reset resets the account and returns its new version.
func (p *process) reset(t *testing.T, token, id string) int64 {
	t.Helper()
	data := p.post(t, token, fmt.Sprintf(`mutation { resetAccount(input: {accountId: %q}) { account { version } } }`, id))
	return int64(apptest.Path(data, "resetAccount", "account", "version").(float64))
}

// statusEvent is what the test reads of an accountStatusChanged event.
type statusEvent struct {
	AccountID string
	Version   int64
	Snapshot  bool
}

// statusSubscription reads one accountStatusChanged subscription in the
// background, answering the server's pings so the connection stays up.
type statusSubscription struct {
	events chan statusEvent
	mu     sync.Mutex
	err    error // why reading stopped
}

// subscribeStatus subscribes to every account's status on p and returns
// once the subscription is running: when the snapshot of the account known
// has arrived. The server subscribes to the bus before it loads the
// snapshot, so every change published after that reaches the subscription.
func subscribeStatus(t *testing.T, p *process, token, known string) *statusSubscription {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(p.Base, "http")+"/graphql",
		&websocket.DialOptions{Subprotocols: []string{apptest.TransportWS}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.CloseNow() })
	ws := &apptest.WS{Conn: c}
	if err := ws.Send(ctx, "connection_init", "", map[string]any{"Authorization": "Bearer " + token}); err != nil {
		t.Fatal(err)
	}
	if m, err := ws.ReadSkipping(ctx, "ping", "pong"); err != nil || m.Type != "connection_ack" {
		t.Fatalf("connection_init: %+v, %v", m, err)
	}
	if err := ws.Send(ctx, "subscribe", "1", map[string]any{"query": `subscription { accountStatusChanged { accountId version snapshot } }`}); err != nil {
		t.Fatal(err)
	}
	s := &statusSubscription{events: make(chan statusEvent, 100)}
	go s.read(ctx, ws)
	for {
		ev := s.next(t, 10*time.Second)
		if !ev.Snapshot {
			t.Fatalf("an event before the snapshot: %+v", ev)
		}
		if ev.AccountID == known {
			return s
		}
	}
}

func (s *statusSubscription) read(ctx context.Context, ws *apptest.WS) {
	defer close(s.events)
	for {
		m, err := ws.Read(ctx)
		if err == nil && m.Type == "ping" {
			if err = ws.Send(ctx, "pong", "", nil); err == nil {
				continue
			}
		}
		if err == nil && m.Type != "next" {
			err = fmt.Errorf("unexpected %s %s", m.Type, m.Payload)
		}
		var resp struct {
			Data struct{ AccountStatusChanged statusEvent }
		}
		if err == nil {
			err = json.Unmarshal(m.Payload, &resp)
		}
		if err != nil {
			s.mu.Lock()
			s.err = err
			s.mu.Unlock()
			return
		}
		s.events <- resp.Data.AccountStatusChanged
	}
}

// next returns the next event, failing the test after wait.
func (s *statusSubscription) next(t *testing.T, wait time.Duration) statusEvent {
	t.Helper()
	ev, ok := s.tryNext(wait)
	if !ok {
		t.Fatalf("no event within %v (reading: %v)", wait, s.closed())
	}
	return ev
}

// tryNext returns the next event if one arrives within wait.
func (s *statusSubscription) tryNext(wait time.Duration) (statusEvent, bool) {
	select {
	case ev, ok := <-s.events:
		return ev, ok
	case <-time.After(wait):
		return statusEvent{}, false
	}
}

// closed returns why the subscription stopped being read, nil while it runs.
func (s *statusSubscription) closed() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}
