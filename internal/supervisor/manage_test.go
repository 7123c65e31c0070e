package supervisor_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"wagraph/internal/account"
	"wagraph/internal/apperr"
	"wagraph/internal/store"
	"wagraph/internal/store/storetest"
)

func intp(n int) *int { return &n }

func TestCreateAndUpdateValidateNames(t *testing.T) {
	e := newEnv(t, store.SQLite, account.Options{})
	ctx := context.Background()
	a, err := e.svc.Create(ctx, account.CreateInput{Name: "  Sales Berlin  "})
	if err != nil {
		t.Fatal(err)
	}
	if a.Name != "Sales Berlin" || a.Status != account.StatusPending || a.Version != 1 || a.Reason.Code != account.ReasonCreated || a.Reason.Suggestion == "" {
		t.Fatalf("created %+v", a)
	}
	for _, bad := range []string{"", "   ", strings.Repeat("x", 101)} {
		if _, err := e.svc.Create(ctx, account.CreateInput{Name: bad}); apperr.CodeOf(err) != apperr.InvalidInput {
			t.Fatalf("create %q: %v, want INVALID_INPUT", bad, err)
		}
		if _, err := e.svc.Update(ctx, account.UpdateInput{ID: a.ID, Name: &bad}); apperr.CodeOf(err) != apperr.InvalidInput {
			t.Fatalf("update %q: %v, want INVALID_INPUT", bad, err)
		}
	}
	name := "Sales Munich"
	u, err := e.svc.Update(ctx, account.UpdateInput{ID: a.ID, Name: &name})
	if err != nil || u.Name != name || u.Version != 1 {
		t.Fatalf("update: %+v, %v", u, err)
	}
	if _, err := e.svc.Update(ctx, account.UpdateInput{ID: "missing", Name: &name}); apperr.CodeOf(err) != apperr.NotFound {
		t.Fatalf("update missing: %v", err)
	}
	if _, err := e.svc.Get(ctx, "missing"); apperr.CodeOf(err) != apperr.NotFound {
		t.Fatalf("get missing: %v", err)
	}
}

func TestListPagesFiltersAndSearches(t *testing.T) {
	storetest.RunDialects(t, func(t *testing.T, db *store.DB) {
		e := newEnvWithDB(t, db, account.Options{})
		ctx := context.Background()
		var created []*account.Account
		for i := 0; i < 5; i++ {
			created = append(created, e.create(fmt.Sprintf("Shop %d", i)))
		}
		active := e.activate("Berlin_Main 100%", "4915123456789:1@s.whatsapp.net")
		created = append(created, active)

		var seen []string
		after := ""
		for {
			page, err := e.svc.List(ctx, account.ListInput{First: intp(4), AfterID: after})
			if err != nil {
				t.Fatal(err)
			}
			if page.TotalCount != 6 {
				t.Fatalf("total = %d", page.TotalCount)
			}
			for _, a := range page.Accounts {
				seen = append(seen, a.ID)
			}
			if !page.HasNextPage {
				break
			}
			after = page.Accounts[len(page.Accounts)-1].ID
		}
		if len(seen) != 6 {
			t.Fatalf("paged through %d accounts, want 6", len(seen))
		}
		for i, a := range created {
			if seen[i] != a.ID {
				t.Fatalf("order: position %d is %s, want %s (creation order)", i, seen[i], a.ID)
			}
		}

		cases := []struct {
			name string
			in   account.ListInput
			want int
		}{
			{"by status", account.ListInput{Statuses: []account.Status{account.StatusActive}}, 1},
			{"two statuses", account.ListInput{Statuses: []account.Status{account.StatusActive, account.StatusPending}}, 6},
			{"name, any case", account.ListInput{Search: "shop"}, 5},
			{"phone digits", account.ListInput{Search: "5123456"}, 1},
			{"phone with plus", account.ListInput{Search: "+49151"}, 1},
			{"percent is literal", account.ListInput{Search: "100%"}, 1},
			{"underscore is literal", account.ListInput{Search: "n_m"}, 1},
			{"underscore matches nothing else", account.ListInput{Search: "p_0"}, 0},
			{"status and search", account.ListInput{Statuses: []account.Status{account.StatusPending}, Search: "berlin"}, 0},
			{"first 0", account.ListInput{First: intp(0)}, 0},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				page, err := e.svc.List(ctx, c.in)
				if err != nil {
					t.Fatal(err)
				}
				if len(page.Accounts) != c.want {
					t.Fatalf("got %d accounts, want %d", len(page.Accounts), c.want)
				}
			})
		}
	})
}

func TestListRejectsBadArguments(t *testing.T) {
	e := newEnv(t, store.SQLite, account.Options{})
	ctx := context.Background()
	cases := []struct {
		name  string
		in    account.ListInput
		field string
	}{
		{"first over the cap", account.ListInput{First: intp(101)}, "first"},
		{"negative first", account.ListInput{First: intp(-1)}, "first"},
		{"unknown status", account.ListInput{Statuses: []account.Status{"SLEEPING"}}, "status"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := e.svc.List(ctx, c.in)
			ae, ok := apperr.As(err)
			if !ok || ae.Code != apperr.InvalidInput || ae.Field != c.field {
				t.Fatalf("err = %v, want INVALID_INPUT on %s", err, c.field)
			}
		})
	}
	if page, err := e.svc.List(ctx, account.ListInput{First: intp(100)}); err != nil || page.HasNextPage {
		t.Fatalf("first 100: %v", err)
	}
}

func TestHistoryPagesNewestFirst(t *testing.T) {
	e := newEnv(t, store.SQLite, account.Options{})
	a := e.activate("Historic", "15550100070:1@s.whatsapp.net")
	ctx := context.Background()
	page, err := e.svc.History(ctx, a.ID, intp(2), 0)
	if err != nil {
		t.Fatal(err)
	}
	if page.TotalCount != 5 || len(page.Changes) != 2 || !page.HasNextPage || page.Changes[0].Version != 5 || page.Changes[1].Version != 4 {
		t.Fatalf("first page = %+v", page)
	}
	page, err = e.svc.History(ctx, a.ID, intp(10), page.Changes[1].Version)
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Changes) != 3 || page.HasNextPage || page.Changes[2].Version != 1 || page.Changes[2].From != "" || page.Changes[2].Reason.Code != account.ReasonCreated {
		t.Fatalf("second page = %+v", page)
	}
	if _, err := e.svc.History(ctx, a.ID, intp(500), 0); apperr.CodeOf(err) != apperr.InvalidInput {
		t.Fatalf("first 500: %v", err)
	}
	if _, err := e.svc.History(ctx, "missing", nil, 0); apperr.CodeOf(err) != apperr.NotFound {
		t.Fatalf("missing account: %v", err)
	}
}

func TestDeleteRemovesAccountAndDevice(t *testing.T) {
	e := newEnv(t, store.SQLite, account.Options{})
	ctx := context.Background()
	a := e.activate("Doomed", "15550100071:1@s.whatsapp.net")
	scanning := e.startQR(e.create("Doomed while scanning").ID)
	events := subscribe(t, e.bus, account.AllStatusTopic)
	qrs := subscribe(t, e.bus, account.QRTopic(scanning.ID))
	for _, id := range []string{a.ID, scanning.ID} {
		if _, err := e.sup.Delete(ctx, id); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Get(ctx, id); apperr.CodeOf(err) != apperr.NotFound {
			t.Fatalf("get after delete: %v", err)
		}
	}
	if !e.sessions.loggedOut("15550100071:1@s.whatsapp.net") {
		t.Fatal("the device was not unlinked")
	}
	evs := events()
	if len(evs) != 2 || !evs[0].Deleted || evs[0].AccountID != a.ID || evs[0].Version != a.Version+1 {
		t.Fatalf("delete events = %+v", evs)
	}
	if q := qrs(); len(q) != 1 || !q[0].Done || !q[0].Deleted || q[0].Version != 2 {
		t.Fatalf("QR events = %+v, want a final one saying the account was deleted", q)
	}
	if last := evs[0].Account; last == nil || last.ID != a.ID || last.Status != account.StatusActive {
		t.Fatalf("the delete event carries %+v, want the account's last state", last)
	}
	if _, err := e.sup.Delete(ctx, a.ID); apperr.CodeOf(err) != apperr.NotFound {
		t.Fatalf("second delete: %v", err)
	}
	if page, err := e.svc.History(ctx, a.ID, nil, 0); apperr.CodeOf(err) != apperr.NotFound {
		t.Fatalf("history after delete: %+v %v", page, err)
	}
}
