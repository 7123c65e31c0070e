package whatsapp_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"go.mau.fi/whatsmeow/types"

	"wagraph/internal/apperr"
	"wagraph/internal/contact"
	"wagraph/internal/jobs"
	"wagraph/internal/message"
	"wagraph/internal/ratelimit"
	"wagraph/internal/sending"
	"wagraph/internal/store"
	"wagraph/internal/store/storetest"
)

type outcomeLog struct {
	mu    sync.Mutex
	codes []int
}

func (o *outcomeLog) RecordSendResult(_ context.Context, _ string, code int) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.codes = append(o.codes, code)
	return nil
}

func (o *outcomeLog) has(code int) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Contains(o.codes, code)
}

// The send queue through the real stack: message service → send job →
// whatsapp.Manager → unmodified whatsmeow → the simulator, whose recipient
// phone decrypts exactly the text sent, under the WhatsApp message id the
// message records. A number without WhatsApp fails with
// RECIPIENT_NOT_ON_WHATSAPP; a 463 from the server holds the message and
// is reported to Outcomes.
func TestE2ESendMessage(t *testing.T) {
	storetest.RunDialects(t, func(t *testing.T, db *store.DB) {
		e := newE2E(t, db)
		a, _ := e.activateQR("Sender")
		ctx := context.Background()
		policy, err := sending.New(db, ratelimit.NewMemory(), sending.Defaults{Limits: []ratelimit.Limit{{Max: 1000, Window: time.Minute}}, NewChatsPerDay: 1000}, sending.Options{})
		if err != nil {
			t.Fatal(err)
		}
		reg := jobs.NewRegistry()
		js, err := jobs.New(db, reg, jobs.Options{Logger: e.log, Workers: 2, PollInterval: 20 * time.Millisecond, StopTimeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		out := &outcomeLog{}
		svc := message.New(message.Deps{DB: db, Jobs: js, Bus: e.bus, Sender: e.mgr, Admitter: policy, Outcomes: out,
			Contacts: contact.New(db, contact.Options{Logger: e.log})}, message.Options{Logger: e.log, LookupInterval: time.Millisecond})
		svc.RegisterJobs(reg)
		events, cancel := js.Client().Subscribe(river.EventKindJobCompleted, river.EventKindJobSnoozed, river.EventKindJobFailed)
		defer cancel()
		if err := js.Start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = js.Close() })
		until := func(what string, cond func() bool) {
			t.Helper()
			deadline := time.After(waitFor)
			for !cond() {
				select {
				case <-events:
				case <-deadline:
					t.Fatalf("timed out waiting for %s", what)
				}
			}
		}
		send := func(to, text string) *message.Message {
			m, err := svc.Send(ctx, message.SendInput{AccountID: a.ID, To: to, Text: text})
			if err != nil {
				t.Fatal(err)
			}
			return m
		}
		get := func(id string) *message.Message {
			m, err := svc.Get(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			return m
		}

		friend := e.sim.NewPhone()
		const text = "Olá 👋 — exactly this text"
		m := send(friend.Number, text)
		until("the message to be sent", func() bool { m = get(m.ID); return m.Status == message.Sent })
		got := e.sim.SentTo(friend.JID)
		if len(got) != 1 || got[0].Body != text || got[0].ID != m.WAMessageID || got[0].ErrorCode != 0 {
			t.Fatalf("the phone got %+v; want one message %q with id %s", got, text, m.WAMessageID)
		}
		if m.SentAt.IsZero() || !out.has(0) {
			t.Fatalf("sent message %+v, outcomes %v", m, out.codes)
		}

		m = send("+4915199999999", "nobody there")
		until("the message to fail", func() bool { m = get(m.ID); return m.Status == message.Failed })
		if m.Error.Code != string(apperr.RecipientNotOnWhatsApp) {
			t.Fatalf("error = %+v", m.Error)
		}

		own, err := types.ParseJID(a.JID)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.sim.RejectSends(own, 463); err != nil {
			t.Fatal(err)
		}
		m = send(friend.Number, "blocked by a time-lock")
		until("the 463 to hold the message", func() bool { m = get(m.ID); return m.Wait != nil && out.has(463) })
		if m.Status != message.Queued || m.Wait.Code != "SENDING_PAUSED" {
			t.Fatalf("after 463: %+v wait %+v", m, m.Wait)
		}
		if n := len(e.sim.SentTo(friend.JID)); n != 2 || e.sim.SentTo(friend.JID)[1].ErrorCode != 463 {
			t.Fatalf("the simulator saw %d messages to the friend", n)
		}
	})
}
