package message_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"wagraph/internal/account"
	"wagraph/internal/contact"
	"wagraph/internal/message"
	"wagraph/internal/pubsub"
	"wagraph/internal/store"
	"wagraph/internal/store/storetest"
)

// One account's big batch does not hold up another account's message:
// they are in different lanes. With every send job in one queue, the
// second account's message waited behind all 120 (4 workers, each but one
// waiting for the first account's turn).
func TestABatchDoesNotHoldUpOtherAccounts(t *testing.T) {
	storetest.RunDialects(t, func(t *testing.T, db *store.DB) {
		h := newHarness(t, db, generous, nil)
		ctx := context.Background()
		h.sender.set(func(f *fakeSender) { f.delay = 10 * time.Millisecond })
		p, err := h.contacts.CreatePersona(ctx, "Everyone", "")
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for i := range 120 {
			ids = append(ids, h.addContact(fmt.Sprintf("+4915100%06d", i), "").ID)
		}
		if _, err := h.contacts.AddToPersona(ctx, p.ID, contact.Selection{IDs: ids}); err != nil {
			t.Fatal(err)
		}
		big, err := h.svc.Queue(ctx, message.QueueInput{AccountID: h.account, Recipients: contact.Selection{Filter: &contact.Filter{PersonaID: p.ID}}, Text: "Hello"})
		if err != nil {
			t.Fatal(err)
		}
		other := newAccount(t, db, "Support")
		m, err := h.svc.Send(ctx, message.SendInput{AccountID: other, To: "+4915199999999", Text: "Hi"})
		if err != nil {
			t.Fatal(err)
		}
		h.waitStatus(m.ID, message.Sent)
		b, err := h.svc.GetBatch(ctx, big.ID)
		if err != nil {
			t.Fatal(err)
		}
		// 120 sends of 10 ms take 1.2 s one after the other; the other
		// account's message goes while most of them are still queued.
		if b.Sent > 60 {
			t.Fatalf("the other account's message went after %d of the batch's 120", b.Sent)
		}
		if lanes := jobQueues(t, db); lanes[m.ID] == lanes[firstMessage(t, h, big.ID)] {
			t.Fatalf("both accounts' jobs in queue %s", lanes[m.ID])
		}
	})
}

// Accounts get lanes as they first send, the emptiest lane each time, and
// keep them: 40 accounts fill the 32 lanes, 8 of them twice.
func TestAccountsSpreadOverTheLanes(t *testing.T) {
	db := storetest.Open(t, store.SQLite)
	h := newHarness(t, db, generous, nil)
	ctx := context.Background()
	perQueue := map[string]int{}
	queueOf := map[string]string{}
	for i := range 40 {
		acc := newAccount(t, db, fmt.Sprintf("Account %d", i))
		for range 2 { // a second message goes to the same lane
			m, err := h.svc.Send(ctx, message.SendInput{AccountID: acc, To: "+4915199999999", Text: "Hi"})
			if err != nil {
				t.Fatal(err)
			}
			q := jobQueues(t, db)[m.ID]
			if prev, ok := queueOf[acc]; ok && prev != q {
				t.Fatalf("account %d's messages in %s and %s", i, prev, q)
			}
			if _, ok := queueOf[acc]; !ok {
				perQueue[q]++
			}
			queueOf[acc] = q
		}
	}
	if len(perQueue) != message.Lanes {
		t.Fatalf("%d lanes in use, want %d: %v", len(perQueue), message.Lanes, perQueue)
	}
	twice := 0
	for q, n := range perQueue {
		switch n {
		case 1:
		case 2:
			twice++
		default:
			t.Fatalf("%d accounts in %s", n, q)
		}
	}
	if twice != 40-message.Lanes {
		t.Fatalf("%d lanes with two accounts, want %d", twice, 40-message.Lanes)
	}
}

func newAccount(t testing.TB, db *store.DB, name string) string {
	t.Helper()
	acc, err := account.New(db, pubsub.NewMemory(pubsub.Options{}), account.Options{Logger: zerolog.Nop()}).Create(context.Background(), account.CreateInput{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	return acc.ID
}

// jobQueues maps message ids to the River queue of their send job.
func jobQueues(t testing.TB, db *store.DB) map[string]string {
	t.Helper()
	id := "args ->> 'message_id'"
	if db.Kind == store.SQLite {
		id = "json_extract(args, '$.message_id')" // args is JSONB there
	}
	var rows []struct {
		Queue string `bun:"queue"`
		ID    string `bun:"id"`
	}
	if err := db.NewRaw("SELECT queue, "+id+" AS id FROM river_job WHERE kind = 'message_send'").Scan(context.Background(), &rows); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, r := range rows {
		out[r.ID] = r.Queue
	}
	return out
}

func firstMessage(t *testing.T, h *harness, batchID string) string {
	t.Helper()
	var id string
	if err := h.db.NewRaw("SELECT id FROM messages WHERE batch_id = ? ORDER BY id LIMIT 1", batchID).Scan(context.Background(), &id); err != nil {
		t.Fatal(err)
	}
	return id
}
