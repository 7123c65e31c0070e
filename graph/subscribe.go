package graph

import (
	"context"
	"time"

	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/rs/zerolog"

	"wagraph/internal/apperr"
	"wagraph/internal/live"
	"wagraph/internal/pubsub"
)

// streamBuffer is how many mapped events wait between a subscription's
// stream and its websocket writer. The real buffer, whose overflow cuts a
// slow subscriber off, is the bus subscription's (PUBSUB_BUFFER).
const streamBuffer = 1

// subscribe is the whole of a subscription resolver: it streams src (the
// snapshot, then each newer event) mapped to the GraphQL model by toModel,
// which gets the time of sending for countdowns. Adding a subscription is
// declaring a live.Source and writing its toModel.
//
// The stream's goroutine owns the returned channel and closes it when the
// stream ends: on the client's unsubscribe or disconnect, after the source's
// final event, or on failure. A failure (the subscriber read too slowly, the
// bus closed) is sent as the operation's last message, a coded error; on
// graphql-transport-ws that is an "error" message, which ends the operation.
func subscribe[T, M any](ctx context.Context, bus pubsub.Bus, src live.Source[T], toModel func(T, time.Time) M) (<-chan M, error) {
	return live.StreamMap(ctx, bus, src, streamBuffer, func(err error) { failSubscription(ctx, err) },
		func(ev T) M { return toModel(ev, time.Now()) })
}

// failSubscription records why the server ends a subscription, for the
// client (the error message sent once the channel closes) and for metrics.
// It runs before the stream's channel closes, which orders it before
// gqlgen reads the error.
func failSubscription(ctx context.Context, err error) {
	gqlErr := presentError(ctx, err)
	if st := subscriptionStateFrom(ctx); st != nil {
		code := string(apperr.CodeOf(err))
		st.failure.Store(&code)
	}
	if connStateFrom(ctx) == nil {
		// Not a websocket (limitSubscriptions refuses those), so there is
		// no error channel to the client; AddSubscriptionError would panic.
		zerolog.Ctx(ctx).Warn().Err(err).Msg("subscription ended outside a websocket")
		return
	}
	transport.AddSubscriptionError(ctx, gqlErr)
}
