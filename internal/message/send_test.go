package message_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"wagraph/internal/apperr"
	"wagraph/internal/contact"
	"wagraph/internal/message"
	"wagraph/internal/store"
	"wagraph/internal/store/storetest"
)

// A message is queued, sent once with its text, and recorded SENT with
// WhatsApp's id; the same idempotency key returns it again and sends
// nothing more, and a retried job finds it SENT.
func TestSendOnceWithIdempotencyKey(t *testing.T) {
	storetest.RunDialects(t, func(t *testing.T, db *store.DB) {
		h := newHarness(t, db, generous, nil)
		ctx := context.Background()
		in := message.SendInput{AccountID: h.account, To: "+49 151 2345 6789", Text: " Hello there ", IdempotencyKey: "k1"}
		m, err := h.svc.Send(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		if m.Status != message.Queued || m.To != "+4915123456789" || m.Text != "Hello there" {
			t.Fatalf("queued message = %+v", m)
		}
		m = h.waitStatus(m.ID, message.Sent)
		got := h.sender.sends()
		if len(got) != 1 || got[0].Text != "Hello there" || got[0].To != "+4915123456789" || got[0].ID != m.WAMessageID || m.SentAt.IsZero() || m.Attempts != 1 {
			t.Fatalf("sent %+v; message %+v", got, m)
		}
		if o := h.outcomes.all(); !slices.Equal(o, []int{0}) {
			t.Fatalf("outcomes = %v, want one success", o)
		}

		again, err := h.svc.Send(ctx, in)
		if err != nil || again.ID != m.ID || again.Status != message.Sent {
			t.Fatalf("repeated key = %+v, %v; want the first message", again, err)
		}
		if err := h.svc.Work(ctx, m.ID); err != nil {
			t.Fatal(err)
		}
		if n := len(h.sender.tries()); n != 1 {
			t.Fatalf("%d sends after a repeated key and a retried job, want 1", n)
		}
		in.Text = "Another text"
		if _, err := h.svc.Send(ctx, in); apperr.CodeOf(err) != apperr.Conflict {
			t.Fatalf("same key, other text: %v, want CONFLICT", err)
		}

		// A contact id as recipient; new chat unless the contact wrote.
		c := h.addContact("+4915100000001", "Ana")
		if err := h.svc.RecordInbound(ctx, h.account, c.Phone, time.Now()); err != nil {
			t.Fatal(err)
		}
		m2, err := h.svc.Send(ctx, message.SendInput{AccountID: h.account, To: c.ID, Text: "hi Ana"})
		if err != nil || m2.ContactID != c.ID || m2.To != c.Phone {
			t.Fatalf("to a contact: %+v %v", m2, err)
		}
		h.waitStatus(m2.ID, message.Sent)
		h.admit.mu.Lock()
		newChats := slices.Clone(h.admit.newChats)
		h.admit.mu.Unlock()
		if !slices.Equal(newChats, []bool{true, false}) {
			t.Fatalf("admissions asked with newChat %v, want a new chat then a known one", newChats)
		}

		page, err := h.svc.List(ctx, message.ListInput{Filter: message.Filter{AccountID: h.account, Status: message.Sent}})
		if err != nil || page.TotalCount != 2 || page.Messages[0].ID != m2.ID {
			t.Fatalf("list = %+v %v", page, err)
		}
	})
}

func TestSendRefusesBadInput(t *testing.T) {
	db := storetest.Open(t, store.SQLite)
	h := newHarness(t, db, generous, nil)
	ctx := context.Background()
	opted := h.addContact("+4915100000002", "Bo")
	if _, err := h.contacts.SetOptOut(ctx, contact.Selection{IDs: []string{opted.ID}}, true); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		in   message.SendInput
		code apperr.Code
	}{
		{message.SendInput{AccountID: h.account, To: "+4915100000002", Text: "x"}, apperr.OptedOut},
		{message.SendInput{AccountID: h.account, To: opted.ID, Text: "x"}, apperr.OptedOut},
		{message.SendInput{AccountID: h.account, To: "12", Text: "x"}, apperr.InvalidInput},
		{message.SendInput{AccountID: h.account, To: "no-such-contact", Text: "x"}, apperr.InvalidInput},
		{message.SendInput{AccountID: h.account, To: "+4915100000003", Text: "  "}, apperr.InvalidInput},
		{message.SendInput{AccountID: "nobody", To: "+4915100000003", Text: "x"}, apperr.NotFound},
	} {
		if _, err := h.svc.Send(ctx, tc.in); apperr.CodeOf(err) != tc.code {
			t.Errorf("Send(%+v) = %v, want %s", tc.in, err, tc.code)
		}
	}
	if n := len(h.sender.tries()); n != 0 {
		t.Fatalf("%d sends for refused input", n)
	}
}

// A number not on WhatsApp fails with a clear code, and the answer is
// cached: a second message to it asks WhatsApp nothing more.
func TestRecipientNotOnWhatsApp(t *testing.T) {
	db := storetest.Open(t, store.SQLite)
	h := newHarness(t, db, generous, nil)
	ctx := context.Background()
	h.sender.set(func(f *fakeSender) { f.off["+4915100000009"] = true })
	for range 2 {
		m, err := h.svc.Send(ctx, message.SendInput{AccountID: h.account, To: "+4915100000009", Text: "x"})
		if err != nil {
			t.Fatal(err)
		}
		m = h.waitStatus(m.ID, message.Failed)
		if m.Error == nil || m.Error.Code != string(apperr.RecipientNotOnWhatsApp) || m.Error.Suggestion == "" {
			t.Fatalf("failed message = %+v", m.Error)
		}
	}
	h.sender.mu.Lock()
	defer h.sender.mu.Unlock()
	if len(h.sender.lookups) != 1 || len(h.sender.attempts) != 0 {
		t.Fatalf("lookups %v, sends %v; want one lookup, no send", h.sender.lookups, h.sender.attempts)
	}
}

// WhatsApp's answers: no answer → the job retries under the same id; 463
// holds the message (reported to Outcomes); another code fails it; no live
// session makes it wait, then it goes.
func TestSendFailures(t *testing.T) {
	storetest.RunDialects(t, func(t *testing.T, db *store.DB) {
		h := newHarness(t, db, generous, func(o *message.Options) { o.RefusedRetry = time.Hour })
		ctx := context.Background()
		send := func(to string) *message.Message {
			m, err := h.svc.Send(ctx, message.SendInput{AccountID: h.account, To: to, Text: "hello " + to})
			if err != nil {
				t.Fatal(err)
			}
			return m
		}

		h.sender.set(func(f *fakeSender) { f.fail = 1 })
		m := h.waitStatus(send("+4915100000011").ID, message.Sent)
		tries := h.sender.tries()
		if len(tries) != 2 || tries[0].ID != tries[1].ID || tries[1].ID != m.WAMessageID || m.Attempts != 2 {
			t.Fatalf("attempts %+v, message %+v; want two tries under one WhatsApp id", tries, m)
		}

		h.sender.set(func(f *fakeSender) { f.refuse = 463 })
		id := send("+4915100000012").ID
		h.until("the 463 to be reported", func() bool { return slices.Contains(h.outcomes.all(), 463) })
		h.until("the message to wait", func() bool { m = h.message(id); return m.Wait != nil })
		if m.Status != message.Queued || m.Wait.Code != "SENDING_PAUSED" || m.Wait.Until.Before(time.Now().Add(50*time.Minute)) {
			t.Fatalf("after 463: %+v wait %+v", m, m.Wait)
		}

		h.sender.set(func(f *fakeSender) { f.refuse = 479 })
		m = h.waitStatus(send("+4915100000013").ID, message.Failed)
		if m.Error.Code != string(apperr.SendFailed) || m.Error.Message != "WhatsApp refused the message with error 479" {
			t.Fatalf("after 479: %+v", m.Error)
		}

		h.sender.set(func(f *fakeSender) { f.refuse, f.notActive = 0, true })
		id = send("+4915100000014").ID
		h.until("the message to wait for its account", func() bool { m = h.message(id); return m.Wait != nil })
		if m.Wait.Code != string(apperr.AccountNotActive) {
			t.Fatalf("wait = %+v", m.Wait)
		}
		h.sender.set(func(f *fakeSender) { f.notActive = false })
		h.waitStatus(id, message.Sent)

		// A message whose send got no answer, then found the account gone:
		// it waits, and goes later under the id of its first try.
		h.sender.set(func(f *fakeSender) { f.fail = 1 })
		id = send("+4915100000016").ID
		h.until("the first try", func() bool {
			return len(h.sender.tries()) > 0 && h.sender.tries()[len(h.sender.tries())-1].To == "+4915100000016"
		})
		h.sender.set(func(f *fakeSender) { f.notActive = true })
		h.until("the message to wait for its account", func() bool { m = h.message(id); return m.Wait != nil })
		h.sender.set(func(f *fakeSender) { f.notActive = false })
		m = h.waitStatus(id, message.Sent)
		var ids []string
		for _, s := range h.sender.tries() {
			if s.To == "+4915100000016" {
				ids = append(ids, s.ID)
			}
		}
		if len(ids) != 2 || ids[0] != ids[1] || ids[1] != m.WAMessageID {
			t.Fatalf("tries under ids %v, message id %s; want both under one id", ids, m.WAMessageID)
		}
	})
}

// Past NotActiveGiveUp a message for an account without a live session
// fails with ACCOUNT_NOT_ACTIVE.
func TestNotActiveGivesUp(t *testing.T) {
	db := storetest.Open(t, store.SQLite)
	h := newHarness(t, db, generous, func(o *message.Options) { o.NotActiveGiveUp = time.Nanosecond })
	h.sender.set(func(f *fakeSender) { f.notActive = true })
	m, err := h.svc.Send(context.Background(), message.SendInput{AccountID: h.account, To: "+4915100000015", Text: "x"})
	if err != nil {
		t.Fatal(err)
	}
	m = h.waitStatus(m.ID, message.Failed)
	if m.Error.Code != string(apperr.AccountNotActive) {
		t.Fatalf("error = %+v", m.Error)
	}
}
