package supervisor_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"wagraph/internal/account"
	"wagraph/internal/apperr"
	"wagraph/internal/store"
	"wagraph/internal/store/storetest"
)

// TestConcurrentTransitionsKeepHistoryAndAccountsInStep hammers a few
// accounts with user actions and session events from many goroutines and
// then checks, per account, that the status history is a gap-free chain of
// versions ending exactly in the account row, and that every version was
// published once.
func TestConcurrentTransitionsKeepHistoryAndAccountsInStep(t *testing.T) {
	storetest.RunDialects(t, func(t *testing.T, db *store.DB) {
		e := newEnvWithDB(t, db, account.Options{})
		events := subscribe(t, e.bus, account.AllStatusTopic)
		var ids []string
		for i := 0; i < 4; i++ {
			a := e.activate(fmt.Sprintf("Busy %d", i), fmt.Sprintf("1555010008%d:1@s.whatsapp.net", i))
			ids = append(ids, a.ID)
		}
		ctx := context.Background()
		ops := []func(id string) error{
			func(id string) error { _, err := e.sup.Reset(ctx, id); return err },
			func(id string) error {
				_, err := e.sup.StartActivation(ctx, account.StartActivationInput{AccountID: id, Method: account.MethodQR})
				return err
			},
			func(id string) error { _, err := e.sup.Reconnect(ctx, id); return err },
			func(id string) error { _, err := e.sup.Logout(ctx, id); return err },
			func(id string) error {
				name := "Renamed"
				_, err := e.svc.Update(ctx, account.UpdateInput{ID: id, Name: &name})
				return err
			},
			func(id string) error {
				jid := "15550100089:" + id[len(id)-4:] + "@s.whatsapp.net"
				e.sessions.storeDevice(jid)
				return e.sessions.emitErr(id, account.Paired{Device: account.Device{JID: jid}})
			},
			func(id string) error { return e.sessions.emitErr(id, account.Connected{}) },
			func(id string) error { return e.sessions.emitErr(id, account.Disconnected{}) },
			func(id string) error { return e.sessions.emitErr(id, account.KeepAliveTimeout{ErrorCount: 1}) },
			func(id string) error { return e.sessions.emitErr(id, account.KeepAliveRestored{}) },
			func(id string) error { return e.sessions.emitErr(id, account.QRCode{Code: "qr"}) },
		}
		var wg sync.WaitGroup
		for g := 0; g < 8; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 30; i++ {
					id := ids[rand.IntN(len(ids))]
					err := ops[rand.IntN(len(ops))](id)
					if err != nil && apperr.CodeOf(err) != apperr.InvalidTransition {
						t.Errorf("operation on %s: %v", id, err)
					}
				}
			}()
		}
		wg.Wait()

		published := map[string]map[int64]int{} // status changes by version
		revisions := map[string][]int64{}       // every event's revision, in publish order
		for _, ev := range events() {
			if published[ev.AccountID] == nil {
				published[ev.AccountID] = map[int64]int{}
			}
			if !ev.Updated {
				published[ev.AccountID][ev.Version]++
			}
			revisions[ev.AccountID] = append(revisions[ev.AccountID], ev.Revision)
		}
		for _, id := range ids {
			a := e.get(id)
			h := e.history(id)
			if int64(len(h)) != a.Version {
				t.Fatalf("%s: %d history rows, account version %d", id, len(h), a.Version)
			}
			for i, c := range h {
				if c.Version != int64(i+1) {
					t.Fatalf("%s: history versions have a gap at %d: %d", id, i+1, c.Version)
				}
				if i > 0 && c.From != h[i-1].To {
					t.Fatalf("%s: v%d goes from %s but v%d ended in %s", id, c.Version, c.From, h[i-1].Version, h[i-1].To)
				}
				if i > 0 && !account.CanTransition(c.From, c.To) {
					t.Fatalf("%s: v%d is an illegal move %s → %s", id, c.Version, c.From, c.To)
				}
				if n := published[id][c.Version]; n != 1 {
					t.Fatalf("%s: v%d published %d times", id, c.Version, n)
				}
			}
			// Every revision is published once: live views see no gap.
			revs := slices.Sorted(slices.Values(revisions[id]))
			for i, r := range revs {
				if r != int64(i+1) {
					t.Fatalf("%s: published revisions %v, want 1..%d each once", id, revs, a.Revision)
				}
			}
			if int64(len(revs)) != a.Revision {
				t.Fatalf("%s: %d events published, account revision %d", id, len(revs), a.Revision)
			}
			last := h[len(h)-1]
			if last.To != a.Status || last.Reason.Code != a.Reason.Code || last.Reason.Message != a.Reason.Message {
				t.Fatalf("%s: account is %s (%s) but history ends in %s (%s)", id, a.Status, a.Reason.Code, last.To, last.Reason.Code)
			}
		}
	})
}
