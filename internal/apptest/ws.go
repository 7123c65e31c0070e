package apptest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/coder/websocket"
)

// The GraphQL websocket subprotocols gqlgen speaks.
const (
	TransportWS = "graphql-transport-ws"
	LegacyWS    = "graphql-ws"
)

// Message is one GraphQL websocket protocol message.
type Message struct {
	Type    string          `json:"type"`
	ID      string          `json:"id,omitempty"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// WS is a client websocket to /graphql.
type WS struct {
	Conn *websocket.Conn
}

// DialWS opens a websocket to the server's /graphql with subprotocol and extra
// header (e.g. Origin). It returns the handshake response, also on failure.
func (s *Server) DialWS(ctx context.Context, t testing.TB, subprotocol string, header http.Header) (*WS, *http.Response, error) {
	t.Helper()
	opts := &websocket.DialOptions{HTTPHeader: header, HTTPClient: s.HTTP.Client()}
	if subprotocol != "" {
		opts.Subprotocols = []string{subprotocol}
	}
	c, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(s.URL, "http")+"/graphql", opts)
	if err != nil {
		return nil, resp, err
	}
	c.SetReadLimit(-1)
	t.Cleanup(func() { _ = c.CloseNow() })
	return &WS{Conn: c}, resp, nil
}

// Send writes one protocol message.
func (w *WS) Send(ctx context.Context, typ, id string, payload any) error {
	m := Message{Type: typ, ID: id}
	if payload != nil {
		b, err := json.Marshal(payload)
		if err != nil {
			return err
		}
		m.Payload = b
	}
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return w.Conn.Write(ctx, websocket.MessageText, b)
}

// Read returns the next protocol message; on a closed socket the error
// carries the close status (websocket.CloseStatus).
func (w *WS) Read(ctx context.Context) (Message, error) {
	typ, b, err := w.Conn.Read(ctx)
	if err != nil {
		return Message{}, err
	}
	if typ != websocket.MessageText {
		return Message{}, fmt.Errorf("got a %v message, want text", typ)
	}
	var m Message
	if err := json.Unmarshal(b, &m); err != nil {
		return Message{}, fmt.Errorf("decode %s: %w", b, err)
	}
	return m, nil
}

// ReadSkipping returns the next message whose type is not one of skip
// (keep-alives such as "ka", "ping" or "pong").
func (w *WS) ReadSkipping(ctx context.Context, skip ...string) (Message, error) {
	for {
		m, err := w.Read(ctx)
		if err != nil {
			return m, err
		}
		if !slices.Contains(skip, m.Type) {
			return m, nil
		}
	}
}

// ReadUntilClosed reads and discards messages until the server closes the
// socket, and returns the close status and reason (-1 when the connection
// ended without a close frame).
func (w *WS) ReadUntilClosed(ctx context.Context) (websocket.StatusCode, string, []Message) {
	var seen []Message
	for {
		m, err := w.Read(ctx)
		if err != nil {
			if ce, ok := errors.AsType[websocket.CloseError](err); ok {
				return ce.Code, ce.Reason, seen
			}
			return -1, err.Error(), seen
		}
		seen = append(seen, m)
	}
}
