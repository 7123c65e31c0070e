package graph

import (
	"context"
	"fmt"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	gqlexecutor "github.com/99designs/gqlgen/graphql/executor"

	"wagraph/graph/model"
)

// pinSubscriptions hands gqlgen a channel the test fills. The embedded
// interface stands for the subscriptions the test does not use.
type pinSubscriptions struct {
	SubscriptionResolver
	ch chan *model.AccountStatusEvent
}

func (p pinSubscriptions) AccountStatusChanged(context.Context, *string) (<-chan *model.AccountStatusEvent, error) {
	return p.ch, nil
}

type pinRoot struct {
	*Resolver
	sub pinSubscriptions
}

func (r pinRoot) Subscription() SubscriptionResolver { return r.sub }

// subscriptionState.respond hands gqlgen one event and calls gqlgen's
// response handler once, expecting it to execute exactly that event. This
// pins what it relies on: each call of the handler gqlgen returns for a
// subscription reads exactly one item from the resolver's channel, and a
// closed channel ends the operation (nil response). If a gqlgen upgrade
// changes that, shared responses would go to the wrong events.
func TestGqlgenReadsOneEventPerResponse(t *testing.T) {
	const n = 3
	ch := make(chan *model.AccountStatusEvent, n)
	for i := 1; i <= n; i++ {
		ch <- &model.AccountStatusEvent{AccountID: "a", Version: i}
	}
	exec := gqlexecutor.New(NewExecutableSchema(Config{
		Resolvers:  pinRoot{Resolver: &Resolver{}, sub: pinSubscriptions{ch: ch}},
		Directives: DirectiveRoot{HasRole: hasRole},
	}))
	ctx := graphql.StartOperationTrace(context.Background())
	oc, errs := exec.CreateOperationContext(ctx, &graphql.RawParams{Query: "subscription { accountStatusChanged { accountId version } }"})
	if errs != nil {
		t.Fatal(errs)
	}
	respond, ctx := exec.DispatchOperation(ctx, oc)
	for i := 1; i <= n; i++ {
		resp := respond(ctx)
		if resp == nil || len(resp.Errors) > 0 {
			t.Fatalf("response %d = %+v", i, resp)
		}
		want := fmt.Sprintf(`{"accountStatusChanged":{"accountId":"a","version":%d}}`, i)
		if string(resp.Data) != want {
			t.Fatalf("response %d = %s, want %s", i, resp.Data, want)
		}
		if left := len(ch); left != n-i {
			t.Fatalf("after response %d, %d events left in the channel, want %d: gqlgen read more than one", i, left, n-i)
		}
	}
	close(ch)
	if resp := respond(ctx); resp != nil {
		t.Fatalf("after the channel closed: %+v, want the end (nil)", resp)
	}
}
