package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"sync"
	"time"
	"unique"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/rs/zerolog"

	"wagraph/internal/apperr"
	"wagraph/internal/auth"
	"wagraph/internal/live"
)

// subscribe is the whole of a subscription resolver: it opens a service's
// live stream with watch (the snapshot, then each newer event) and returns
// the channel gqlgen executes events from, mapped to the GraphQL model by
// toModel, which gets the time of sending for countdowns. Adding a
// subscription is giving a service a watch method and writing its toModel.
//
// The stream is not pumped into the channel by a goroutine of its own: the
// subscription's response handler (see limitSubscriptions and
// subscriptionState.respond) pulls each event and either hands it to gqlgen
// through the channel or, when another subscriber with the same query has
// already had the same delivery executed, sends the bytes it got.
func subscribe[T, M any](ctx context.Context, watch func(context.Context, string) (*live.Cursor[T], error), id string, toModel func(T, time.Time) M) (<-chan M, error) {
	st := subscriptionStateFrom(ctx)
	if st == nil {
		// limitSubscriptions runs for every subscription; without it there
		// is nobody to pull the stream.
		return nil, apperr.New(apperr.Internal, "subscription resolver called outside a subscription")
	}
	cur, err := watch(ctx, id)
	if err != nil {
		return nil, err
	}
	out := make(chan M, 1)
	st.stream = &pulledStream[T, M]{cur: cur, out: out, toModel: toModel}
	return out, nil
}

// stream is a subscription's live stream as its response handler pulls it.
type stream interface {
	// next waits for the next event and returns the memo its delivery shares
	// with the other local subscribers (empty for a snapshot event). An
	// error is live.ErrEnd or a failure to report.
	next(ctx context.Context) (responseMemo, error)
	// deliver hands the event next returned to gqlgen, which reads it in the
	// next call of the operation's response handler.
	deliver()
	// end closes gqlgen's channel, which completes the operation.
	end()
}

type pulledStream[T, M any] struct {
	cur     *live.Cursor[T]
	out     chan M
	toModel func(T, time.Time) M
	current T
}

func (s *pulledStream[T, M]) next(ctx context.Context) (responseMemo, error) {
	ev, err := s.cur.Next(ctx)
	s.current = ev.Value
	return responseMemo{shared: ev.Shared}, err
}

// responseMemo is what one delivery of an event shares between the local
// subscribers that receive it: the response gqlgen made of it for each
// query, so subscribers with the same query share one execution.
type responseMemo struct{ shared *sync.Map }

// responseKey keys a response in a delivery's memo; a type of its own keeps
// it apart from what others keep there (live's shared snapshot loads).
type responseKey struct{ query unique.Handle[string] }

// response returns the response kept for query, if any.
func (m responseMemo) response(query unique.Handle[string]) ([]byte, bool) {
	if m.shared == nil {
		return nil, false
	}
	v, ok := m.shared.Load(responseKey{query})
	if !ok {
		return nil, false
	}
	data, ok := v.([]byte)
	return data, ok
}

// keep stores a copy of data as the response for query, unless another
// subscriber stored one first. It does nothing for a snapshot event.
func (m responseMemo) keep(query unique.Handle[string], data []byte) {
	if m.shared != nil {
		m.shared.LoadOrStore(responseKey{query}, bytes.Clone(data))
	}
}

// deliver cannot block: out has room for one event, and the handler reads
// it (or the operation ends) before asking for the next.
func (s *pulledStream[T, M]) deliver() { s.out <- s.toModel(s.current, time.Now()) }

func (s *pulledStream[T, M]) end() {
	s.cur.Close()
	close(s.out)
}

// subscriptionState is one running subscription: its stream, set by the
// resolver, and how it ended.
type subscriptionState struct {
	stream  stream
	failure string // the error code it was ended with, if it failed
	// query identifies what the subscriber asked for (operation, variables
	// and role); subscribers with the same query get the same bytes for the
	// same event.
	query unique.Handle[string]
}

type subscriptionStateKey struct{}

func subscriptionStateFrom(ctx context.Context) *subscriptionState {
	st, _ := ctx.Value(subscriptionStateKey{}).(*subscriptionState)
	return st
}

// queryOf identifies the result an operation gives for an event: the query
// text, operation name, variables, and the caller's role (which @hasRole
// fields depend on).
func queryOf(ctx context.Context, oc *graphql.OperationContext) unique.Handle[string] {
	role := ""
	if p, ok := auth.FromContext(ctx); ok {
		role = string(p.Role)
	}
	vars, err := json.Marshal(oc.Variables) // map keys come out sorted
	if err != nil {
		vars = nil // cannot happen for decoded JSON variables; sharing still keys on the rest
	}
	return unique.Make(role + "\x00" + oc.OperationName + "\x00" + oc.RawQuery + "\x00" + string(vars))
}

// respond is the subscription's response handler around gqlgen's (next):
// for each event of the stream it sends the response another subscriber
// with the same query already got for the same delivery, or has gqlgen
// execute the event and keeps the result for the others. Only a response
// without errors or extensions is shared. delivered is called for each
// event sent; ended once, when the operation ends.
func (st *subscriptionState) respond(ctx context.Context, next graphql.ResponseHandler, delivered, ended func()) *graphql.Response {
	memo, err := st.stream.next(ctx)
	if err != nil {
		if !errors.Is(err, live.ErrEnd) {
			st.fail(ctx, err)
		}
		st.stream.end()
		next(ctx) // gqlgen reads the closed channel and finishes
		ended()
		return nil
	}
	if data, ok := memo.response(st.query); ok {
		delivered()
		return &graphql.Response{Data: data}
	}
	// gqlgen's response handler reads exactly one item from the resolver's
	// channel per call (TestGqlgenReadsOneEventPerResponse pins it), so the
	// event delivered now is the one next executes.
	st.stream.deliver()
	resp := counted(next(ctx), delivered, ended)
	if resp != nil && len(resp.Errors) == 0 && len(resp.Extensions) == 0 {
		// gqlgen reuses resp.Data's buffer for the next event: keep copies.
		memo.keep(st.query, resp.Data)
	}
	return resp
}

// counted reports a response to the metrics: nil ends the operation, a
// response without errors is an event sent.
func counted(resp *graphql.Response, delivered, ended func()) *graphql.Response {
	if resp == nil {
		ended()
	} else if len(resp.Errors) == 0 {
		delivered()
	}
	return resp
}

// fail records why the server ends the subscription, for the client (the
// error message sent once the operation ends) and for metrics.
func (st *subscriptionState) fail(ctx context.Context, err error) {
	st.failure = string(apperr.CodeOf(err))
	failSubscription(ctx, err)
}

// failSubscription sends err as the subscription's last message, a coded
// error; on graphql-transport-ws that is an "error" message, which ends the
// operation.
func failSubscription(ctx context.Context, err error) {
	gqlErr := presentError(ctx, err)
	if connStateFrom(ctx) == nil {
		// Not a websocket (limitSubscriptions refuses those), so there is
		// no error channel to the client; AddSubscriptionError would panic.
		zerolog.Ctx(ctx).Warn().Err(err).Msg("subscription ended outside a websocket")
		return
	}
	transport.AddSubscriptionError(ctx, gqlErr)
}
