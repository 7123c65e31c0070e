package message_test

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"wagraph/internal/apperr"
	"wagraph/internal/contact"
	"wagraph/internal/live"
	"wagraph/internal/message"
	"wagraph/internal/ratelimit"
	"wagraph/internal/store"
	"wagraph/internal/store/storetest"
)

// A batch to a persona: placeholders filled in per contact, opted-out
// contacts skipped and counted, and with a limit of 2 sends per second the
// limiter refuses, the jobs snooze (not fail) and the batch drains later at
// the limited pace. batchProgress shows it from the snapshot to the final
// event.
func TestBatchDrainsAtTheLimitedPace(t *testing.T) {
	storetest.RunDialects(t, func(t *testing.T, db *store.DB) {
		limit := ratelimit.Limit{Max: 2, Window: time.Second}
		h := newHarness(t, db, []ratelimit.Limit{limit}, nil)
		ctx := context.Background()
		p, err := h.contacts.CreatePersona(ctx, "Berlin", "")
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for i := range 7 {
			name := fmt.Sprintf("Person %d", i)
			if i == 3 {
				name = ""
			}
			ids = append(ids, h.addContact(fmt.Sprintf("+491510000010%d", i), name).ID)
		}
		if _, err := h.contacts.AddToPersona(ctx, p.ID, contact.Selection{IDs: ids}); err != nil {
			t.Fatal(err)
		}
		if _, err := h.contacts.SetOptOut(ctx, contact.Selection{IDs: ids[6:]}, true); err != nil {
			t.Fatal(err)
		}
		b, err := h.svc.Queue(ctx, message.QueueInput{
			AccountID: h.account, Recipients: contact.Selection{Filter: &contact.Filter{PersonaID: p.ID}},
			Text: "Hi {{ first_name | there }}, call {{phone}}", StartAt: time.Now().Add(500 * time.Millisecond),
		})
		if err != nil {
			t.Fatal(err)
		}
		if b.Total != 6 || b.SkippedOptedOut != 1 || b.Pending() != 6 {
			t.Fatalf("batch = %+v", b)
		}
		cur, err := h.svc.WatchBatch(ctx, b.ID)
		if err != nil {
			t.Fatal(err)
		}
		first, err := cur.Next(ctx)
		if err != nil || !first.Value.Snapshot || first.Value.Batch.Sent != 0 {
			t.Fatalf("first event = %+v %v, want the snapshot", first.Value, err)
		}
		var last message.BatchProgress
		for {
			ev, err := cur.Next(ctx)
			if err == live.ErrEnd {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			last = ev.Value
		}
		if !last.Batch.Done() || last.Batch.Sent != 6 {
			t.Fatalf("final event = %+v", last.Batch)
		}

		got := h.sender.sends()
		if len(got) != 6 {
			t.Fatalf("%d sends, want 6", len(got))
		}
		texts := map[string]string{}
		var times []time.Time
		for _, s := range got {
			texts[s.To] = s.Text
			times = append(times, s.At)
		}
		if texts["+4915100000100"] != "Hi Person, call +4915100000100" || texts["+4915100000103"] != "Hi there, call +4915100000103" {
			t.Fatalf("texts = %v", texts)
		}
		// Never more than 2 in any second (the limiter's clock runs ahead
		// of the send by a little, and the database writes between, hence the slack).
		sort.Slice(times, func(i, j int) bool { return times[i].Before(times[j]) })
		for i := limit.Max; i < len(times); i++ {
			if d := times[i].Sub(times[i-limit.Max]); d < limit.Window-300*time.Millisecond {
				t.Fatalf("sends %d and %d only %v apart: %v", i-limit.Max, i, d, times)
			}
		}
		if times[0].Before(b.StartAt) {
			t.Fatalf("first send at %v, before the batch's start %v", times[0], b.StartAt)
		}
		page, err := h.svc.ListBatches(ctx, h.account, nil, "")
		if err != nil || page.TotalCount != 1 || page.Batches[0].Sent != 6 {
			t.Fatalf("batches = %+v %v", page, err)
		}
	})
}

// cancelBatch cancels every message not sent yet; nothing is sent after
// it, and canceling again changes nothing.
func TestCancelBatch(t *testing.T) {
	storetest.RunDialects(t, func(t *testing.T, db *store.DB) {
		h := newHarness(t, db, generous, nil)
		ctx := context.Background()
		var ids []string
		for i := range 5 {
			ids = append(ids, h.addContact(fmt.Sprintf("+491510000020%d", i), "").ID)
		}
		b, err := h.svc.Queue(ctx, message.QueueInput{AccountID: h.account, Recipients: contact.Selection{IDs: ids},
			Text: "later", StartAt: time.Now().Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		b, err = h.svc.CancelBatch(ctx, b.ID)
		if err != nil || b.Canceled != 5 || !b.Done() || b.CanceledAt.IsZero() {
			t.Fatalf("canceled batch = %+v %v", b, err)
		}
		again, err := h.svc.CancelBatch(ctx, b.ID)
		if err != nil || again.Canceled != 5 || again.Version != b.Version {
			t.Fatalf("canceled again = %+v %v", again, err)
		}
		page, err := h.svc.List(ctx, message.ListInput{Filter: message.Filter{BatchID: b.ID, Status: message.Canceled}})
		if err != nil || page.TotalCount != 5 {
			t.Fatalf("canceled messages = %+v %v", page, err)
		}
		// The jobs, run now, find their messages canceled.
		for _, m := range page.Messages {
			if err := h.svc.Work(ctx, m.ID); err != nil {
				t.Fatal(err)
			}
		}
		if n := len(h.sender.tries()); n != 0 {
			t.Fatalf("%d sends after cancelBatch", n)
		}
		if _, err := h.svc.CancelBatch(ctx, "nope"); apperr.CodeOf(err) != apperr.NotFound {
			t.Fatalf("unknown batch: %v", err)
		}
	})
}

func TestQueueRefusesBadInput(t *testing.T) {
	db := storetest.Open(t, store.SQLite)
	h := newHarness(t, db, generous, nil)
	ctx := context.Background()
	c := h.addContact("+4915100000300", "Cy")
	sel := contact.Selection{IDs: []string{c.ID}}
	for _, tc := range []struct {
		in    message.QueueInput
		field string
		msg   string
	}{
		{message.QueueInput{AccountID: h.account, Recipients: sel, Text: "Hi {{nmae}}"}, "text", "unknown placeholder {{nmae}}"},
		{message.QueueInput{AccountID: h.account, Recipients: sel, Text: "Hi {{name"}, "text", ""},
		{message.QueueInput{AccountID: h.account, Recipients: sel, Text: "x", JitterSeconds: -1}, "jitterSeconds", ""},
		{message.QueueInput{AccountID: h.account, Recipients: sel, Text: "x", StartAt: time.Now().Add(40 * 24 * time.Hour)}, "startAt", ""},
		{message.QueueInput{AccountID: h.account, Recipients: contact.Selection{IDs: []string{"none"}}, Text: "x"}, "recipients", ""},
	} {
		_, err := h.svc.Queue(ctx, tc.in)
		e, ok := apperr.As(err)
		if !ok || e.Code != apperr.InvalidInput || e.Field != tc.field || (tc.msg != "" && e.Message != tc.msg) {
			t.Errorf("Queue(%q) = %v, want INVALID_INPUT on %s", tc.in.Text, err, tc.field)
		}
	}
	small := newHarness(t, storetest.Open(t, store.SQLite), generous, func(o *message.Options) { o.MaxBatch = 1 })
	a, b := small.addContact("+4915100000301", ""), small.addContact("+4915100000302", "")
	if _, err := small.svc.Queue(ctx, message.QueueInput{AccountID: small.account, Recipients: contact.Selection{IDs: []string{a.ID, b.ID}}, Text: "x"}); apperr.CodeOf(err) != apperr.InvalidInput {
		t.Fatalf("over MaxBatch: %v", err)
	}
}

// Messages the limits refuse do not all wake when the window frees (one
// would go and the rest be refused again, round after round): each waits a
// random share of the time the account's backlog takes at the limit's pace.
func TestRefusedMessagesSpreadTheirWaits(t *testing.T) {
	db := storetest.Open(t, store.SQLite)
	h := newHarness(t, db, []ratelimit.Limit{{Max: 1, Window: time.Hour}}, nil)
	ctx := context.Background()
	var ids []string
	for i := range 20 {
		ids = append(ids, h.addContact(fmt.Sprintf("+49151000040%02d", i), "").ID)
	}
	b, err := h.svc.Queue(ctx, message.QueueInput{AccountID: h.account, Recipients: contact.Selection{IDs: ids}, Text: "x"})
	if err != nil {
		t.Fatal(err)
	}
	var page *message.Page
	h.until("19 messages to wait", func() bool {
		page, err = h.svc.List(ctx, message.ListInput{Filter: message.Filter{BatchID: b.ID, Status: message.Queued}})
		if err != nil {
			t.Fatal(err)
		}
		waiting := 0
		for _, m := range page.Messages {
			if m.Wait != nil {
				waiting++
			}
		}
		return waiting == 19
	})
	first, last := page.Messages[0].Wait.Until, page.Messages[0].Wait.Until
	for _, m := range page.Messages {
		if m.Wait.Code != "RATE_LIMITED" || m.Wait.Until.Before(time.Now().Add(50*time.Minute)) {
			t.Fatalf("wait = %+v, want RATE_LIMITED until the hour is over at least", m.Wait)
		}
		if m.Wait.Until.Before(first) {
			first = m.Wait.Until
		}
		if m.Wait.Until.After(last) {
			last = m.Wait.Until
		}
	}
	if last.Sub(first) < time.Hour {
		t.Fatalf("19 waits between %v and %v: not spread over the backlog's 19 hours", first, last)
	}
}
