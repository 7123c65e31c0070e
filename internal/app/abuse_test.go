package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
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

// exponentialFragments is a document whose fragments each spread the next
// one twice: 2^depth selections once expanded, in under 2 KB of text.
func exponentialFragments(depth int) string {
	var b strings.Builder
	b.WriteString("query Boom { ...F0 }\n")
	for i := range depth {
		fmt.Fprintf(&b, "fragment F%d on Query { ...F%d ...F%d }\n", i, i+1, i+1)
	}
	fmt.Fprintf(&b, "fragment F%d on Query { health { status } }\n", depth)
	return b.String()
}

// sendExponentialFragments posts n exponential-fragment documents at once,
// half of them without a token, and returns a function that waits for the
// answers and checks each was refused as QUERY_TOO_COMPLEX.
func sendExponentialFragments(t *testing.T, s *apptest.Server, token string, n int) (wait func()) {
	t.Helper()
	body, err := json.Marshal(map[string]string{"query": exponentialFragments(30)})
	if err != nil {
		t.Fatal(err)
	}
	codes := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			header := []string{"Content-Type", "application/json"}
			if i%2 == 1 {
				header = append(header, "Authorization", "Bearer "+token)
			}
			_, raw := s.Do(t, http.MethodPost, "/graphql", body, header...)
			var resp struct {
				Errors []apptest.GQLError `json:"errors"`
			}
			if json.Unmarshal(raw, &resp) == nil && len(resp.Errors) > 0 {
				codes[i] = resp.Errors[0].Code()
			} else {
				codes[i] = "unreadable answer: " + string(raw)
			}
		})
	}
	return func() {
		wg.Wait()
		for i, code := range codes {
			if code != "QUERY_TOO_COMPLEX" {
				t.Errorf("exponential-fragment request %d: %s, want QUERY_TOO_COMPLEX", i, code)
			}
		}
	}
}

// checkServesUnderAbuse checks that the server stays responsive while the
// abuse runs: /healthz answers within 100 ms every time (1 s under -race), and an
// authenticated client's queries work.
func checkServesUnderAbuse(t *testing.T, s *apptest.Server, token string) {
	t.Helper()
	c := s.Client(apptest.Bearer(token))
	limit := 100 * time.Millisecond
	if raceDetector {
		limit = time.Second // the race detector slows the server's every step
	}
	var slowest time.Duration
	for range 20 {
		start := time.Now()
		resp, _ := s.Get(t, "/healthz")
		took := time.Since(start)
		slowest = max(slowest, took)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("/healthz = %d", resp.StatusCode)
		}
		if took > limit {
			t.Errorf("/healthz took %v, want under %v", took, limit)
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
// once), releasing their file descriptors, while 100 exponential-fragment
// documents (half of them without a token) are refused cheaply.
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

	fragmentsAnswered := sendExponentialFragments(t, s, token, 100)
	checkServesUnderAbuse(t, s, token)
	fragmentsAnswered()

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
