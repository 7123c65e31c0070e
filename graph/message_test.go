package graph_test

// Sending over GraphQL on a whole server (no live WhatsApp session: the
// messages wait for one): sendMessage with its idempotency key, batches to
// a persona with placeholders, cancelBatch and batchProgress, the roles.

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/99designs/gqlgen/client"

	"wagraph/internal/apperr"
	"wagraph/internal/apptest"
	"wagraph/internal/auth"
	"wagraph/internal/contact"
	"wagraph/internal/store/storetest"
)

func TestMessagesOverGraphQL(t *testing.T) {
	for _, d := range storetest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			s := apptest.Start(t, apptest.Env{"DATABASE_URL": storetest.URL(t, d)})
			ctx := context.Background()
			viewerToken := s.Token(t, auth.Viewer)
			viewer, op := s.Client(apptest.Bearer(viewerToken)), s.Client(apptest.Bearer(s.Token(t, auth.Operator)))
			acc := createAccount(t, s, s.Token(t, auth.Operator), "Sender")

			// VIEWER reads but cannot send, queue or cancel.
			for _, m := range []string{
				`sendMessage(input: {accountId: "x", to: "+4915123456789", text: "hi"}) { message { id } }`,
				`queueMessages(input: {accountId: "x", recipients: {personaId: "p"}, text: "hi"}) { batch { id } }`,
				`cancelBatch(input: {id: "x"}) { batch { id } }`,
			} {
				if e := apptest.Post(t, viewer, "mutation { "+m+" }").Only(t); e.Code() != string(apperr.Forbidden) {
					t.Fatalf("VIEWER %s: %s %q", m, e.Code(), e.Message)
				}
			}

			send := `mutation($acc: ID!, $key: String) { sendMessage(input: {accountId: $acc, to: "+49 151 2345 6789", text: "Hello", idempotencyKey: $key}) {
				message { id status to text idempotencyKey waMessageId sentAt error { code } } } }`
			data := apptest.Post(t, op, send, client.Var("acc", acc), client.Var("key", "order-1")).NoErrors(t)
			msg := apptest.Path(data, "sendMessage", "message")
			id, _ := apptest.Path(msg, "id").(string)
			if apptest.Path(msg, "status") != "QUEUED" || apptest.Path(msg, "to") != "+4915123456789" || apptest.Path(msg, "waMessageId") != nil {
				t.Fatalf("sendMessage = %v", msg)
			}
			data = apptest.Post(t, op, send, client.Var("acc", acc), client.Var("key", "order-1")).NoErrors(t)
			if apptest.Path(data, "sendMessage", "message", "id") != id {
				t.Fatalf("repeated key made another message: %v", data)
			}
			data = apptest.Post(t, viewer, fmt.Sprintf(`{ message(id: %q) { id accountId } messages(filter: {accountId: %q}) { totalCount edges { node { id } } } }`, id, acc)).NoErrors(t)
			if apptest.Path(data, "message", "accountId") != acc || apptest.Path(data, "messages", "totalCount") != float64(1) {
				t.Fatalf("queries = %v", data)
			}
			if e := apptest.Post(t, op, `mutation { sendMessage(input: {accountId: "`+acc+`", to: "not a number", text: "x"}) { message { id } } }`).Only(t); e.Code() != string(apperr.InvalidInput) {
				t.Fatalf("bad recipient: %s %q", e.Code(), e.Message)
			}

			// A persona of three, one opted out.
			p, err := s.App.Contacts.CreatePersona(ctx, "VIP", "")
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for i, name := range []string{"Ana Lima", "Bruno", "Cris"} {
				c, _, err := s.App.Contacts.Upsert(ctx, contact.Observation{Phone: fmt.Sprintf("+4915123456%03d", i), FullName: name, Source: contact.Source{Kind: contact.SourceManual}})
				if err != nil {
					t.Fatal(err)
				}
				ids = append(ids, c.ID)
			}
			if _, err := s.App.Contacts.AddToPersona(ctx, p.ID, contact.Selection{IDs: ids}); err != nil {
				t.Fatal(err)
			}
			if _, err := s.App.Contacts.SetOptOut(ctx, contact.Selection{IDs: ids[2:]}, true); err != nil {
				t.Fatal(err)
			}
			queue := `mutation($acc: ID!, $p: ID!, $text: String!, $at: Time) { queueMessages(input: {accountId: $acc, recipients: {personaId: $p}, text: $text, startAt: $at, jitterSeconds: 5}) {
				batch { id total skippedOptedOut pending done sent canceled jitterSeconds } } }`
			e := apptest.Post(t, op, queue, client.Var("acc", acc), client.Var("p", p.ID), client.Var("text", "Hi {{nick}}")).Only(t)
			if e.Code() != string(apperr.InvalidInput) || e.Message != "unknown placeholder {{nick}}" || e.Extensions["field"] != "text" {
				t.Fatalf("unknown placeholder: %+v", e)
			}
			at := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
			data = apptest.Post(t, op, queue, client.Var("acc", acc), client.Var("p", p.ID), client.Var("text", "Hi {{first_name|there}}"), client.Var("at", at)).NoErrors(t)
			b := apptest.Path(data, "queueMessages", "batch")
			batchID, _ := apptest.Path(b, "id").(string)
			if apptest.Path(b, "total") != float64(2) || apptest.Path(b, "skippedOptedOut") != float64(1) || apptest.Path(b, "pending") != float64(2) || apptest.Path(b, "done") != false {
				t.Fatalf("batch = %v", b)
			}
			data = apptest.Post(t, viewer, fmt.Sprintf(`{ messages(filter: {batchId: %q}, first: 1) { totalCount pageInfo { hasNextPage endCursor } edges { node { text contactId } } } }`, batchID)).NoErrors(t)
			if apptest.Path(data, "messages", "totalCount") != float64(2) || apptest.Path(data, "messages", "pageInfo", "hasNextPage") != true {
				t.Fatalf("batch messages = %v", data)
			}
			if e := apptest.Post(t, op, `mutation { queueMessages(input: {accountId: "`+acc+`", recipients: {personaId: "`+p.ID+`", contactIds: ["`+ids[0]+`"]}, text: "x"}) { batch { id } } }`).Only(t); e.Code() != string(apperr.InvalidInput) {
				t.Fatalf("two kinds of recipients: %+v", e)
			}

			// batchProgress: the snapshot, then the cancellation, which ends it.
			sub := s.Client().WebsocketWithPayload(fmt.Sprintf(`subscription { batchProgress(batchId: %q) { snapshot batch { id pending canceled done } } }`, batchID),
				map[string]any{"Authorization": "Bearer " + viewerToken})
			stuck := time.AfterFunc(30*time.Second, func() { _ = sub.Close() })
			defer stuck.Stop()
			defer func() { _ = sub.Close() }()
			type event struct {
				BatchProgress struct {
					Snapshot bool
					Batch    struct {
						ID                string
						Pending, Canceled int
						Done              bool
					}
				}
			}
			var ev event
			if err := sub.Next(&ev); err != nil || !ev.BatchProgress.Snapshot || ev.BatchProgress.Batch.Pending != 2 {
				t.Fatalf("snapshot = %+v %v", ev, err)
			}
			data = apptest.Post(t, op, fmt.Sprintf(`mutation { cancelBatch(input: {id: %q}) { batch { canceled pending done canceledAt } } }`, batchID)).NoErrors(t)
			if apptest.Path(data, "cancelBatch", "batch", "canceled") != float64(2) || apptest.Path(data, "cancelBatch", "batch", "done") != true {
				t.Fatalf("cancelBatch = %v", data)
			}
			ev = event{}
			if err := sub.Next(&ev); err != nil || ev.BatchProgress.Snapshot || !ev.BatchProgress.Batch.Done || ev.BatchProgress.Batch.Canceled != 2 {
				t.Fatalf("progress after cancel = %+v %v", ev, err)
			}
			data = apptest.Post(t, viewer, fmt.Sprintf(`{ batches(accountId: %q) { totalCount edges { node { id done } } } batch(id: %q) { canceled } }`, acc, batchID)).NoErrors(t)
			if apptest.Path(data, "batches", "totalCount") != float64(1) || apptest.Path(data, "batch", "canceled") != float64(2) {
				t.Fatalf("batches = %v", data)
			}
		})
	}
}
