package app_test

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"wagraph/internal/apptest"
	"wagraph/internal/auth"
)

// halfOpenWebsockets is how many unauthenticated websockets the abuse test
// holds against one server.
const halfOpenWebsockets = 1000

// heldSocket is one hostile websocket and how it ended.
type heldSocket struct {
	conn   *websocket.Conn
	closed chan websocket.StatusCode // the server's close code, once it closed
}

// holdHalfOpenWebsockets opens n websockets that never authenticate: a third
// connect and send nothing, a third send a connection_init whose payload is
// not an object (the socket gqlgen used to leave open for good), a third
// speak the legacy protocol and send nothing. Each reads until the server
// closes it.
func holdHalfOpenWebsockets(t *testing.T, ctx context.Context, s *apptest.Server, n int) []*heldSocket {
	t.Helper()
	url := "ws" + s.URL[len("http"):] + "/graphql"
	held := make([]*heldSocket, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	slots := make(chan struct{}, 32) // dials in flight
	for i := range n {
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			errs[i] = holdOne(ctx, url, i, held)
		})
	}
	wg.Wait()
	t.Cleanup(func() {
		for _, h := range held {
			if h != nil {
				_ = h.conn.CloseNow()
			}
		}
	})
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("opening %d websockets: %v", n, err)
	}
	return held
}

// holdOne opens the i-th hostile websocket into held[i].
func holdOne(ctx context.Context, url string, i int, held []*heldSocket) error {
	proto, init := "graphql-transport-ws", ""
	switch i % 3 {
	case 1:
		init = []string{`{"type":"connection_init","payload":5}`, `{"type":"connection_init","payload":[]}`, `{"type":"connection_init","payload":"x"}`}[i%9/3]
	case 2:
		proto = "graphql-ws"
	}
	c, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: []string{proto}, HTTPClient: &http.Client{}})
	if err != nil {
		return err
	}
	h := &heldSocket{conn: c, closed: make(chan websocket.StatusCode, 1)}
	held[i] = h
	if init != "" {
		if err := c.Write(ctx, websocket.MessageText, []byte(init)); err != nil {
			return err
		}
	}
	go func() {
		for {
			if _, _, err := c.Read(ctx); err != nil {
				h.closed <- websocket.CloseStatus(err)
				return
			}
		}
	}()
	return nil
}

// checkServesUnderAbuse checks that the server stays responsive while the
// abuse runs: /healthz answers within 100 ms every time, and an
// authenticated client's queries work.
func checkServesUnderAbuse(t *testing.T, s *apptest.Server, token string) {
	t.Helper()
	c := s.Client(apptest.Bearer(token))
	var slowest time.Duration
	for range 20 {
		start := time.Now()
		resp, _ := s.Get(t, "/healthz")
		took := time.Since(start)
		slowest = max(slowest, took)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("/healthz = %d", resp.StatusCode)
		}
		if took > 100*time.Millisecond {
			t.Errorf("/healthz took %v, want under 100 ms", took)
		}
		if role := apptest.Path(apptest.Post(t, c, `{ viewer { role } }`).NoErrors(t), "viewer", "role"); role != "OPERATOR" {
			t.Errorf("viewer role = %v", role)
		}
	}
	t.Logf("slowest /healthz: %v", slowest)
}

// The acceptance test of issue 9's abuse part: 1,000 unauthenticated
// websockets held against one server do not stop it from serving, and the
// server closes every one of them by WS_INIT_TIMEOUT (the malformed ones at
// once), releasing their file descriptors. The exponential-fragment half of
// that acceptance adds its requests next to holdHalfOpenWebsockets, before
// checkServesUnderAbuse.
func TestAbuseHalfOpenWebsockets(t *testing.T) {
	if testing.Short() {
		t.Skip("opens 1,000 websockets")
	}
	raiseFileLimit(t, 4*halfOpenWebsockets)
	const initTimeout = 10 * time.Second
	s := apptest.Start(t, apptest.Env{"WS_INIT_TIMEOUT": initTimeout.String()})
	ctx, cancel := context.WithTimeout(t.Context(), 3*initTimeout)
	defer cancel()
	token := s.Token(t, auth.Operator)
	opened := time.Now()
	held := holdHalfOpenWebsockets(t, ctx, s, halfOpenWebsockets)
	t.Logf("opened %d websockets in %v", len(held), time.Since(opened))

	checkServesUnderAbuse(t, s, token)

	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[websocket.StatusCode]int{}
	var open int
	for _, h := range held {
		wg.Go(func() {
			select {
			case code := <-h.closed:
				mu.Lock()
				codes[code]++
				mu.Unlock()
			case <-ctx.Done():
				mu.Lock()
				open++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if open > 0 {
		t.Errorf("%d websockets still open long after WS_INIT_TIMEOUT", open)
	}
	third := halfOpenWebsockets / 3
	if codes[4400] < third || codes[4408] < third || codes[websocket.StatusProtocolError] < third {
		t.Errorf("close codes %v: want the malformed inits closed with 4400, the silent ones with 4408 (graphql-transport-ws) and 1002 (graphql-ws)", codes)
	}
	t.Logf("close codes: %v", codes)
}
