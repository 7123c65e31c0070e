package message_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"wagraph/internal/contact"
	"wagraph/internal/message"
	"wagraph/internal/store/storetest"
)

// BenchmarkDrain drains batches of 8 accounts (8 send lanes) through the
// send worker with a fake WhatsApp that answers at once: the cost of the
// queue itself (River, the limiter, the database writes), apart from
// WhatsApp. bench/messages measures the whole path through whatsmeow and
// the simulator.
func BenchmarkDrain(b *testing.B) {
	for _, d := range storetest.Dialects {
		b.Run(string(d), func(b *testing.B) {
			db := storetest.Open(b, d)
			h := newHarness(b, db, generous, nil)
			ctx := context.Background()
			var obs []contact.Observation
			for i := range 250 {
				obs = append(obs, contact.Observation{Phone: fmt.Sprintf("+49151%08d", i+1)})
			}
			p, err := h.contacts.CreatePersona(ctx, "all", "")
			if err != nil {
				b.Fatal(err)
			}
			if _, err := h.contacts.ImportList(ctx, contact.ImportListInput{Contacts: obs, PersonaIDs: []string{p.ID}}); err != nil {
				b.Fatal(err)
			}
			accounts := []string{h.account}
			for i := range 7 {
				accounts = append(accounts, newAccount(b, db, fmt.Sprintf("Account %d", i+2)))
			}
			b.ResetTimer()
			began := time.Now()
			total := 0
			for b.Loop() {
				var batches []string
				for _, acc := range accounts {
					batch, err := h.svc.Queue(ctx, message.QueueInput{AccountID: acc, Recipients: contact.Selection{Filter: &contact.Filter{PersonaID: p.ID}}, Text: "hi"})
					if err != nil {
						b.Fatal(err)
					}
					batches = append(batches, batch.ID)
					total += batch.Total
				}
				h.until("the batches to drain", func() bool {
					for _, id := range batches {
						if got, err := h.svc.GetBatch(ctx, id); err != nil || !got.Done() {
							return false
						}
					}
					return true
				})
			}
			b.ReportMetric(float64(total)/time.Since(began).Seconds(), "messages/s")
		})
	}
}
