package app_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/99designs/gqlgen/client"
	"github.com/riverqueue/river"
	"go.mau.fi/whatsmeow/types"

	"wagraph/internal/account"
	"wagraph/internal/apptest"
	"wagraph/internal/auth"
	"wagraph/internal/contact"
	"wagraph/internal/wasim"
)

// What a new user tries in --simulate: link an account, send one message
// from GraphQL (the simulated phone reads exactly the text), queue a batch
// to a persona and watch it drain. This runs through the app's wiring: the
// live sessions as the message service's Sender, the limits, the jobs.
func TestSimulateModeSendsMessages(t *testing.T) {
	s := apptest.Start(t, apptest.Env{"SIMULATE": "true", "SIMULATE_SCAN_DELAY": scanDelay.String(), "RATE_LIMIT_WARMUP": "off"})
	ctx := context.Background()
	sim := s.App.Simulator
	op := s.Client(apptest.Bearer(s.Token(t, auth.Operator)))
	data := apptest.Post(t, op, `mutation { createAccount(input: {name: "Demo"}) { account { id } } }`).NoErrors(t)
	id, _ := apptest.Path(data, "createAccount", "account", "id").(string)
	events, err := s.App.Bus.Subscribe(t.Context(), string(account.AllStatusTopic))
	if err != nil {
		t.Fatal(err)
	}
	defer events.Close()
	apptest.Post(t, op, fmt.Sprintf(`mutation { startActivation(input: {accountId: %q, method: QR}) { account { status } } }`, id)).NoErrors(t)
	for ev := nextStatus(t, events, id); ev.To != account.StatusActive; ev = nextStatus(t, events, id) {
	}
	data = apptest.Post(t, op, fmt.Sprintf(`{ account(id: %q) { phoneNumber } }`, id)).NoErrors(t)
	own, _ := apptest.Path(data, "account", "phoneNumber").(string)

	jobEvents, cancel := s.App.Jobs.Client().Subscribe(river.EventKindJobCompleted, river.EventKindJobSnoozed, river.EventKindJobFailed)
	defer cancel()
	until := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.After(30 * time.Second)
		for !cond() {
			select {
			case <-jobEvents:
			case <-deadline:
				t.Fatalf("timed out waiting for %s", what)
			}
		}
	}
	status := func(msgID string) map[string]any {
		d := apptest.Post(t, op, fmt.Sprintf(`{ message(id: %q) { status waMessageId error { code message } } }`, msgID)).NoErrors(t)
		return apptest.Path(d, "message").(map[string]any)
	}

	friend := sim.NewPhone()
	data = apptest.Post(t, op, `mutation($acc: ID!, $to: String!) { sendMessage(input: {accountId: $acc, to: $to, text: "Hello from the demo", idempotencyKey: "demo-1"}) { message { id status } } }`,
		client.Var("acc", id), client.Var("to", friend.Number)).NoErrors(t)
	msgID, _ := apptest.Path(data, "sendMessage", "message", "id").(string)
	until("the message to be sent", func() bool { return status(msgID)["status"] == "SENT" })
	got := sim.SentTo(friend.JID)
	if len(got) != 1 || got[0].Body != "Hello from the demo" || got[0].ID != status(msgID)["waMessageId"] {
		t.Fatalf("the phone read %+v", got)
	}

	// A persona of two phones with real-looking numbers (the simulator
	// adopts a group's members as phones).
	ownJID := types.NewJID(own[1:], types.DefaultUserServer)
	members := []types.JID{types.NewJID("4915123450001", types.DefaultUserServer), types.NewJID("4915123450002", types.DefaultUserServer)}
	if _, err := sim.AddGroup(ownJID, wasim.GroupSpec{Name: "Club", Participants: []wasim.Participant{{Phone: members[0]}, {Phone: members[1]}}}); err != nil {
		t.Fatal(err)
	}
	p, err := s.App.Contacts.CreatePersona(ctx, "Club", "")
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range members {
		c, _, err := s.App.Contacts.Upsert(ctx, contact.Observation{Phone: "+" + m.User, FullName: fmt.Sprintf("Member %d", i+1), Source: contact.Source{Kind: contact.SourceManual}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.App.Contacts.AddToPersona(ctx, p.ID, contact.Selection{IDs: []string{c.ID}}); err != nil {
			t.Fatal(err)
		}
	}
	data = apptest.Post(t, op, `mutation($acc: ID!, $p: ID!) { queueMessages(input: {accountId: $acc, recipients: {personaId: $p}, text: "Hi {{name}}!"}) { batch { id total } } }`,
		client.Var("acc", id), client.Var("p", p.ID)).NoErrors(t)
	batchID, _ := apptest.Path(data, "queueMessages", "batch", "id").(string)
	until("the batch to drain", func() bool {
		d := apptest.Post(t, op, fmt.Sprintf(`{ batch(id: %q) { done sent } }`, batchID)).NoErrors(t)
		return apptest.Path(d, "batch", "done") == true
	})
	for i, m := range members {
		got := sim.SentTo(m)
		if want := fmt.Sprintf("Hi Member %d!", i+1); len(got) != 1 || got[0].Body != want {
			t.Fatalf("member %d read %+v, want %q", i+1, got, want)
		}
	}
}
