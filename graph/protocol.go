package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"reflect"

	"github.com/coder/websocket"

	"wagraph/internal/apperr"
)

// The client messages of both GraphQL websocket protocols are checked here
// before gqlgen reads them. gqlgen leaves a socket open after a
// connection_init payload it cannot parse, overwrites an operation whose id
// is reused, and answers a subscribe before connection_init, a malformed
// message or a missing payload with codes the protocol does not define (or
// none). graphql-transport-ws defines them (its PROTOCOL.md):
//
//	4400 a malformed message: not JSON, an unknown type, a missing id, a
//	     payload of the wrong shape (connection_init's must be an object)
//	4401 subscribe before the connection was acknowledged
//	4409 subscribe with the id of a running operation
//	4429 a second connection_init
//
// The legacy graphql-ws defines no close codes: its malformed connection_init
// gets connection_error and 4400, and a start without a query gets a coded
// error for that operation; the rest is left to gqlgen as before.

// clientMessage is the envelope of a client message of either protocol.
type clientMessage struct {
	Type    *string         `json:"type"`
	ID      *string         `json:"id"`
	Payload json.RawMessage `json:"payload"`
}

// operationPayload is what subscribe (start) carries.
type operationPayload struct {
	Query         *string         `json:"query"`
	OperationName json.RawMessage `json:"operationName"`
	Variables     json.RawMessage `json:"variables"`
	Extensions    json.RawMessage `json:"extensions"`
}

// violation is a client message that breaks the protocol.
type violation struct {
	code   websocket.StatusCode
	reason string
	// reply is sent first; without a code the message is then dropped and
	// the connection goes on (legacy graphql-ws operations).
	reply []any
}

func (v *violation) Error() string {
	return fmt.Sprintf("websocket protocol violation: %d %s", v.code, v.reason)
}

// NextReader returns the next client message that keeps to the protocol. A
// message that breaks it closes the socket with its code and returns an
// error, so gqlgen stops reading.
func (c *guardedConn) NextReader() (int, io.Reader, error) {
	for {
		typ, r, err := c.WebsocketConn.NextReader()
		if err != nil {
			return typ, r, err
		}
		data, err := io.ReadAll(r)
		if err != nil {
			return typ, nil, err
		}
		v := c.check(data)
		if v == nil {
			return typ, bytes.NewReader(data), nil
		}
		for _, m := range v.reply {
			if err := c.WriteJSON(m); err != nil {
				return typ, nil, err
			}
		}
		if v.code == 0 {
			continue
		}
		c.closeWith(v.code, v.reason)
		return typ, nil, v
	}
}

func (c *guardedConn) check(data []byte) *violation {
	var m clientMessage
	if err := json.Unmarshal(data, &m); err != nil || m.Type == nil {
		return &violation{code: closeBadRequest, reason: "Invalid message received"}
	}
	if c.legacy {
		return c.checkLegacy(m)
	}
	id := ""
	if m.ID != nil {
		id = *m.ID
	}
	switch *m.Type {
	case "connection_init":
		c.mu.Lock()
		again := c.initSeen
		c.initSeen = true
		c.mu.Unlock()
		if again {
			return &violation{code: closeTooManyInitRequests, reason: "Too many initialisation requests"}
		}
		if !objectOrNull(m.Payload) {
			return &violation{code: closeBadRequest, reason: "Invalid message received: the connection_init payload must be an object"}
		}
	case "ping", "pong":
		if !objectOrNull(m.Payload) {
			return &violation{code: closeBadRequest, reason: "Invalid message received: the " + *m.Type + " payload must be an object"}
		}
		c.mu.Lock()
		authed := c.authed
		c.mu.Unlock()
		if !authed {
			// The protocol allows pings at any time; gqlgen reads only
			// connection_init before the ack, so they are answered here.
			// They do not extend the authentication deadline.
			if *m.Type == "ping" {
				return &violation{reply: []any{legacyMessage{Type: "pong"}}}
			}
			return &violation{}
		}
	case "subscribe":
		if id == "" {
			return &violation{code: closeBadRequest, reason: "Invalid message received: subscribe needs an id"}
		}
		if !validOperation(m.Payload) {
			return &violation{code: closeBadRequest, reason: `Invalid message received: subscribe needs a payload with a "query" string (and object variables)`}
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		if !c.authed {
			return &violation{code: closeUnauthorized, reason: "Unauthorized"}
		}
		if _, running := c.active[id]; running {
			return &violation{code: closeSubscriberExists, reason: "Subscriber for " + id + " already exists"}
		}
		c.active[id] = struct{}{}
	case "complete":
		if id == "" {
			return &violation{code: closeBadRequest, reason: "Invalid message received: complete needs an id"}
		}
		c.mu.Lock()
		delete(c.active, id)
		c.mu.Unlock()
	default:
		return &violation{code: closeBadRequest, reason: fmt.Sprintf("Invalid message received: unknown type %q", *m.Type)}
	}
	return nil
}

func (c *guardedConn) checkLegacy(m clientMessage) *violation {
	switch *m.Type {
	case "connection_init":
		if !objectOrNull(m.Payload) {
			reason := "Invalid message received: the connection_init payload must be an object"
			msg, _ := json.Marshal(map[string]string{"message": reason})
			return &violation{code: closeBadRequest, reason: reason, reply: []any{
				legacyMessage{Type: "connection_error", Payload: msg},
			}}
		}
	case "start":
		if m.ID == nil || *m.ID == "" || validOperation(m.Payload) {
			return nil // gqlgen answers these
		}
		c.mu.Lock()
		authed := c.authed
		c.mu.Unlock()
		if !authed {
			return nil // gqlgen refuses anything before connection_init
		}
		err := apperr.Invalid("payload", `start needs a payload with a "query" string (and object variables)`,
			`Send {"type": "start", "id": "1", "payload": {"query": "{ health { status } }"}}.`)
		gqlErr := presentError(context.Background(), err)
		errs, _ := json.Marshal([]any{gqlErr})
		return &violation{reply: []any{
			legacyMessage{Type: "error", ID: *m.ID, Payload: errs},
			legacyMessage{Type: "complete", ID: *m.ID},
		}}
	}
	return nil
}

// legacyMessage is a server message of the legacy graphql-ws protocol (and
// the same envelope of graphql-transport-ws).
type legacyMessage struct {
	Type    string          `json:"type"`
	ID      string          `json:"id,omitempty"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// objectOrNull reports whether a payload is absent, null or a JSON object.
func objectOrNull(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) == 0 || raw[0] == '{' || bytes.Equal(raw, []byte("null"))
}

// validOperation reports whether a subscribe (start) payload has the shape
// the protocol gives it: an object with a query string, and optionally an
// operationName string and variables and extensions objects (each may be
// null).
func validOperation(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return false
	}
	var p operationPayload
	if json.Unmarshal(raw, &p) != nil || p.Query == nil {
		return false
	}
	name := bytes.TrimSpace(p.OperationName)
	return (len(name) == 0 || name[0] == '"' || bytes.Equal(name, []byte("null"))) &&
		objectOrNull(p.Variables) && objectOrNull(p.Extensions)
}

// sent notes the operations that a message from the server ends
// (graphql-transport-ws complete or error), so their ids may be used again.
// gqlgen hands WriteJSON its own message struct; its exported Type and ID
// fields are read by reflection, which costs no encoding (a test pins it).
func (c *guardedConn) sent(v any) {
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Pointer {
		rv = rv.Elem()
	}
	if rv.Kind() != reflect.Struct {
		return
	}
	t, id := rv.FieldByName("Type"), rv.FieldByName("ID")
	if t.Kind() != reflect.String || id.Kind() != reflect.String || id.Len() == 0 {
		return
	}
	if typ := t.String(); typ == "complete" || typ == "error" {
		c.mu.Lock()
		delete(c.active, id.String())
		c.mu.Unlock()
	}
}
