package supervisor

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"wagraph/internal/apperr"
	"wagraph/internal/bus"
)

// Router carries a request to another instance and brings back its answer.
// Commands that need an account's live client go through it to the
// instance that owns the account (route_commands.go); later features that
// need the live client (sending) register their own kinds.
type Router interface {
	// Call sends req to instance and waits for its answer, at most until ctx
	// ends. An error the handler returned comes back with its apperr code,
	// message and suggestion; no answer in time is UNAVAILABLE naming the
	// instance.
	Call(ctx context.Context, instance string, req RouteRequest) (json.RawMessage, error)
	// Handle sets what this instance does with requests of kind.
	Handle(kind string, h RouteHandler)
}

// RouteRequest is one routed request.
type RouteRequest struct {
	Kind      string          `json:"kind"`
	AccountID string          `json:"accountId,omitempty"`
	Body      json.RawMessage `json:"body,omitempty"`
}

// RouteHandler answers a routed request on the instance it was sent to.
type RouteHandler func(ctx context.Context, req RouteRequest) (json.RawMessage, error)

// BusRouter is a Router over the event bus (Redis pub/sub with several
// instances): each instance listens on its own request topic, and answers
// on the caller's reply topic with the request's correlation id. Nothing is
// stored: a request is answered by an instance that is up, or it times
// out and the caller retries, which suits commands a person is waiting for.
type BusRouter struct {
	bus  bus.Bus
	self string
	log  zerolog.Logger

	mu       sync.Mutex
	handlers map[string]RouteHandler
	pending  map[string]chan routeEnvelope
	released func() // OnReleased's callback (route_notice.go)

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// routeEnvelope is what travels: a request (Reply false) or its answer.
type routeEnvelope struct {
	ID    string       `json:"id"`
	From  string       `json:"from"`
	Reply bool         `json:"reply,omitempty"`
	Req   RouteRequest `json:"req"`
	// WaitMs is how long the caller waits; the handler gets that deadline.
	WaitMs int64           `json:"waitMs,omitempty"`
	Result json.RawMessage `json:"result,omitempty"`
	Err    *wireError      `json:"err,omitempty"`
}

// wireError is an error as it crosses the hop: an apperr keeps its code,
// message, suggestion and flags; any other error only its text.
type wireError struct {
	Code         apperr.Code `json:"code,omitempty"`
	Message      string      `json:"message"`
	Suggestion   string      `json:"suggestion,omitempty"`
	Retryable    bool        `json:"retryable,omitempty"`
	RetryAfterMs int64       `json:"retryAfterMs,omitempty"`
	Field        string      `json:"field,omitempty"`
	// NotOwner: the instance does not own the account (it moved); Owner
	// names the owner it knows of.
	NotOwner bool   `json:"notOwner,omitempty"`
	Owner    string `json:"owner,omitempty"`
	// ServerCode is WhatsApp's error code of a refused message, from an
	// error with a ServerCode() int method (internal/whatsapp).
	ServerCode int `json:"serverCode,omitempty"`
}

// RemoteServerError is an error with WhatsApp's code for a refused message,
// as it comes back from the instance that tried to send it.
type RemoteServerError struct {
	Code    int
	Message string
}

func (e *RemoteServerError) Error() string { return e.Message }

// ServerCode is WhatsApp's error code (463, ...).
func (e *RemoteServerError) ServerCode() int { return e.Code }

func toWire(err error) *wireError {
	if err == nil {
		return nil
	}
	var no *notOwnerError
	if errors.As(err, &no) {
		return &wireError{Message: err.Error(), NotOwner: true, Owner: no.owner}
	}
	if e, ok := apperr.As(err); ok {
		return &wireError{Code: e.Code, Message: e.Message, Suggestion: e.Suggestion, Retryable: e.Retryable,
			RetryAfterMs: e.RetryAfter.Milliseconds(), Field: e.Field}
	}
	var sc interface{ ServerCode() int }
	if errors.As(err, &sc) {
		return &wireError{Message: err.Error(), ServerCode: sc.ServerCode()}
	}
	return &wireError{Message: err.Error()}
}

func (w *wireError) toError(instance, accountID string) error {
	switch {
	case w.NotOwner:
		return &notOwnerError{accountID: accountID, owner: w.Owner}
	case w.ServerCode != 0:
		return &RemoteServerError{Code: w.ServerCode, Message: w.Message}
	case w.Code != "":
		return &apperr.Error{Code: w.Code, Message: w.Message, Suggestion: w.Suggestion, Retryable: w.Retryable,
			RetryAfter: time.Duration(w.RetryAfterMs) * time.Millisecond, Field: w.Field}
	default:
		// Uncoded, as it would be on one instance (the API masks it).
		return fmt.Errorf("instance %s: %s", instance, w.Message)
	}
}

func requestTopic(instance string) string { return "wagraph.route.req." + instance }
func replyTopic(instance string) string   { return "wagraph.route.reply." + instance }

// NewBusRouter starts listening for requests to instance self and for the
// answers to its own requests. A bus that cannot subscribe now (Redis down
// at start) does not stop it: it keeps trying in the background, and calls
// time out meanwhile. Close stops it.
func NewBusRouter(ctx context.Context, b bus.Bus, self string, log zerolog.Logger) (*BusRouter, error) {
	r := &BusRouter{bus: b, self: self, log: log.With().Str("component", "router").Logger(),
		handlers: map[string]RouteHandler{}, pending: map[string]chan routeEnvelope{}}
	r.ctx, r.cancel = context.WithCancel(context.WithoutCancel(ctx))
	for _, topic := range []string{requestTopic(self), replyTopic(self), releasedTopic} {
		sub, err := b.Subscribe(r.ctx, topic) // ends with Close
		if err != nil {
			r.log.Warn().Err(err).Str("topic", topic).Msg("cannot listen for routed commands yet; retrying in the background")
			sub = nil
		}
		r.wg.Add(1)
		go r.listen(topic, sub)
	}
	return r, nil
}

// Close stops listening; calls waiting for an answer end with their context.
func (r *BusRouter) Close() error {
	r.cancel()
	r.wg.Wait()
	return nil
}

// Handle implements Router.
func (r *BusRouter) Handle(kind string, h RouteHandler) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.handlers[kind] = h
}

// listen reads one topic until Close, subscribing again when the bus cuts
// the subscription off.
func (r *BusRouter) listen(topic string, sub bus.Subscription) {
	defer r.wg.Done()
	for {
		if sub == nil {
			if sub = r.resubscribe(topic); sub == nil {
				return // closed
			}
		}
		for m := range sub.C() {
			if m.Resync {
				continue
			}
			if topic == releasedTopic {
				r.noticeReleased()
				continue
			}
			env, err := bus.Decode[routeEnvelope](m)
			if err != nil {
				r.log.Warn().Err(err).Msg("undecodable routed message")
				continue
			}
			if env.Reply {
				r.answered(env)
			} else {
				r.wg.Add(1)
				go r.serve(env)
			}
		}
		sub.Close()
		if r.ctx.Err() != nil {
			return
		}
		r.log.Warn().Err(sub.Err()).Str("topic", topic).Msg("route subscription ended; subscribing again")
		sub = nil
	}
}

// resubscribe subscribes to topic, trying every second until it works or
// the router closes (nil).
func (r *BusRouter) resubscribe(topic string) bus.Subscription {
	for {
		if sub, err := r.bus.Subscribe(r.ctx, topic); err == nil {
			return sub
		}
		select {
		case <-r.ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
}

func (r *BusRouter) answered(env routeEnvelope) {
	r.mu.Lock()
	ch := r.pending[env.ID]
	delete(r.pending, env.ID)
	r.mu.Unlock()
	if ch != nil {
		ch <- env // buffered, one answer per id
	}
}

// serve runs a request's handler and publishes its answer.
func (r *BusRouter) serve(env routeEnvelope) {
	defer r.wg.Done()
	r.mu.Lock()
	h := r.handlers[env.Req.Kind]
	r.mu.Unlock()
	ctx := r.ctx
	if env.WaitMs > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(env.WaitMs)*time.Millisecond)
		defer cancel()
	}
	var (
		res json.RawMessage
		err error
	)
	if h == nil {
		err = fmt.Errorf("no handler for routed request kind %q", env.Req.Kind)
	} else {
		res, err = h(ctx, env.Req)
	}
	ans := routeEnvelope{ID: env.ID, From: r.self, Reply: true, Result: res, Err: toWire(err)}
	if err := bus.Publish(context.WithoutCancel(ctx), r.bus, bus.Topic[routeEnvelope](replyTopic(env.From)), ans); err != nil {
		r.log.Warn().Err(err).Str("to", env.From).Str("kind", env.Req.Kind).Msg("could not send the answer to a routed request")
	}
}

// Call implements Router.
func (r *BusRouter) Call(ctx context.Context, instance string, req RouteRequest) (json.RawMessage, error) {
	var b [12]byte
	_, _ = rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	ch := make(chan routeEnvelope, 1)
	r.mu.Lock()
	r.pending[id] = ch
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		delete(r.pending, id)
		r.mu.Unlock()
	}()
	env := routeEnvelope{ID: id, From: r.self, Req: req}
	start := time.Now()
	if dl, ok := ctx.Deadline(); ok {
		env.WaitMs = max(time.Until(dl).Milliseconds(), 1)
	}
	if err := bus.Publish(ctx, r.bus, bus.Topic[routeEnvelope](requestTopic(instance)), env); err != nil {
		return nil, apperr.Wrap(err, apperr.Unavailable, fmt.Sprintf("could not send the %s request to instance %s", req.Kind, instance))
	}
	select {
	case ans := <-ch:
		if ans.Err != nil {
			return nil, ans.Err.toError(instance, req.AccountID)
		}
		return ans.Result, nil
	case <-ctx.Done():
		return nil, apperr.Wrap(ctx.Err(), apperr.Unavailable,
			fmt.Sprintf("instance %s did not answer the %s request for account %s within %s", instance, req.Kind, req.AccountID, time.Since(start).Round(time.Millisecond))).
			WithSuggestion("That instance runs the account and may be overloaded or gone; if it is gone, another instance takes the account over within LEASE_TTL. Try again shortly.")
	}
}
