package app

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"wagraph/internal/apperr"
	"wagraph/internal/message"
	"wagraph/internal/pubsub"
	"wagraph/internal/supervisor"
)

// localSender is one instance's live sessions: it sends for the accounts
// in live and refuses the rest as a session-less instance does.
type localSender struct {
	name string
	live map[string]bool
	sent []string
}

func (l *localSender) Send(_ context.Context, accountID, to, _, waID string) (message.SentResult, error) {
	switch {
	case !l.live[accountID]:
		return message.SentResult{}, apperr.Newf(apperr.AccountNotActive, "account %s has no live WhatsApp session on this instance", accountID)
	case to == "+15550000463":
		return message.SentResult{}, &supervisor.RemoteServerError{Code: 463, Message: "whatsapp: message refused with error 463"}
	}
	l.sent = append(l.sent, l.name+":"+waID)
	return message.SentResult{At: time.Date(2026, 11, 27, 14, 0, 0, 0, time.UTC)}, nil
}

func (l *localSender) IsOnWhatsApp(_ context.Context, accountID string, phones []string) (map[string]bool, error) {
	out := map[string]bool{}
	for _, p := range phones {
		out[p] = l.live[accountID]
	}
	return out, nil
}

// ownedBy places every account on one instance and calls it over router.
type ownedBy struct {
	owner, self string
	router      supervisor.Router
}

func (o ownedBy) Owner(context.Context, string) (string, bool, error) {
	return o.owner, o.owner == o.self, nil
}

func (o ownedBy) CallOwner(ctx context.Context, instance string, req supervisor.RouteRequest) (json.RawMessage, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	return o.router.Call(ctx, instance, req)
}

// A send picked up by an instance that does not run the account goes out
// through the owner's session, with the owner's result and errors.
func TestSendsGoThroughTheOwnersSession(t *testing.T) {
	bus := pubsub.NewMemory(pubsub.Options{})
	t.Cleanup(func() { _ = bus.Close() })
	log := zerolog.Nop()
	routers := map[string]*supervisor.BusRouter{}
	for _, name := range []string{"a", "b"} {
		r, err := supervisor.NewBusRouter(context.Background(), bus, name, log)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = r.Close() })
		routers[name] = r
	}
	onA := &localSender{name: "a", live: map[string]bool{"acc": true}}
	onB := &localSender{name: "b", live: map[string]bool{}}
	newRoutedSender(onA, ownedBy{"a", "a", routers["a"]}, routers["a"])
	viaB := newRoutedSender(onB, ownedBy{"a", "b", routers["b"]}, routers["b"])
	ctx := context.Background()

	res, err := viaB.Send(ctx, "acc", "+15550000001", "hello", "WA1")
	if err != nil || !res.At.Equal(time.Date(2026, 11, 27, 14, 0, 0, 0, time.UTC)) {
		t.Fatalf("send via b: %+v, %v", res, err)
	}
	if len(onA.sent) != 1 || onA.sent[0] != "a:WA1" || len(onB.sent) != 0 {
		t.Fatalf("sent on a %v, on b %v; want the one send on the owner a", onA.sent, onB.sent)
	}
	_, err = viaB.Send(ctx, "acc", "+15550000463", "hello", "WA2")
	var sc interface{ ServerCode() int }
	if !errors.As(err, &sc) || sc.ServerCode() != 463 {
		t.Fatalf("refused send via b: %v, want WhatsApp's 463", err)
	}
	_, err = viaB.Send(ctx, "other", "+15550000001", "hello", "WA3")
	if apperr.CodeOf(err) != apperr.AccountNotActive {
		t.Fatalf("send for an account without a session: %v, want ACCOUNT_NOT_ACTIVE from the owner", err)
	}
	on, err := viaB.IsOnWhatsApp(ctx, "acc", []string{"+15550000001"})
	if err != nil || !on["+15550000001"] {
		t.Fatalf("IsOnWhatsApp via b: %v, %v", on, err)
	}
}
