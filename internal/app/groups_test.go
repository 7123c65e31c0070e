package app_test

import (
	"encoding/csv"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/client"

	"wagraph/internal/account"
	"wagraph/internal/apptest"
	"wagraph/internal/auth"
	"wagraph/internal/contact"
	"wagraph/internal/live"
)

// What a new user does in --simulate: link an account (the demo phone
// scans), refresh its groups (the demo groups are there), scrape them all
// and follow the job, then export a group's members as CSV.
func TestSimulateModeScrapesDemoGroups(t *testing.T) {
	s := apptest.Start(t, apptest.Env{"SIMULATE": "true", "SIMULATE_SCAN_DELAY": scanDelay.String(), "SCRAPE_GROUP_INTERVAL": "10ms"})
	op := s.Client(apptest.Bearer(s.Token(t, auth.Operator)))
	viewer := s.Token(t, auth.Viewer)

	data := apptest.Post(t, op, `mutation { createAccount(input: {name: "Demo"}) { account { id } } }`).NoErrors(t)
	id := apptest.Path(data, "createAccount", "account", "id").(string)
	events, err := s.App.Bus.Subscribe(t.Context(), string(account.AllStatusTopic))
	if err != nil {
		t.Fatal(err)
	}
	defer events.Close()
	apptest.Post(t, op, fmt.Sprintf(`mutation { startActivation(input: {accountId: %q, method: QR}) { account { status } } }`, id)).NoErrors(t)
	for ev := nextStatus(t, events, id); ev.To != account.StatusActive; ev = nextStatus(t, events, id) {
		if ev.To == account.StatusFailed {
			t.Fatalf("activation failed: %+v", ev)
		}
	}

	data = apptest.Post(t, op, fmt.Sprintf(`mutation { refreshGroups(input: {accountId: %q}) { groupCount groups { edges { node { jid name participantCount addressing } } } } }`, id)).NoErrors(t)
	if apptest.Path(data, "refreshGroups", "groupCount") != float64(3) {
		t.Fatalf("refreshGroups = %v", data)
	}
	var marketJID string
	for _, e := range apptest.Path(data, "refreshGroups", "groups", "edges").([]any) {
		if apptest.Path(e, "node", "name") == "Porto market" {
			marketJID = apptest.Path(e, "node", "jid").(string)
		}
	}

	data = apptest.Post(t, op, `mutation($id: ID!) { scrapeGroups(input: {accountId: $id, all: true}) { job { id } } }`, client.Var("id", id)).NoErrors(t)
	jobID := apptest.Path(data, "scrapeGroups", "job", "id").(string)
	var n int64
	fmt.Sscan(jobID, &n)
	cur, err := s.App.Groups.WatchScrape(t.Context(), n)
	if err != nil {
		t.Fatal(err)
	}
	var final contact.ScrapeJob
	for {
		ev, err := cur.Next(t.Context())
		if err == live.ErrEnd {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		final = ev.Value
	}
	if final.State != contact.ScrapeDone || final.GroupsDone != 3 || final.ContactsCreated != 161 || final.MembersWithoutPhone != 1 {
		t.Fatalf("scrape = %+v", final)
	}
	_, metrics := s.Get(t, "/metrics")
	for _, want := range []string{`wagraph_scrape_jobs{state="DONE"} 1`, "wagraph_scrape_members_total 164", `wagraph_scrape_whatsapp_calls_total{call="group_info",result="ok"} 3`} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	path := "/export/groups/participants.csv?accountId=" + id + "&jid=" + marketJID
	resp, body := s.Get(t, path, "Authorization", "Bearer "+viewer)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") {
		t.Fatalf("export: %d %s", resp.StatusCode, body)
	}
	recs, err := csv.NewReader(strings.NewReader(string(body))).ReadAll()
	if err != nil || len(recs) != 8 || strings.Join(recs[0], ",") != "jid,phone,lid,name,role" {
		t.Fatalf("export body %q, %v", recs, err)
	}
	withoutPhone := 0
	for _, r := range recs[1:] {
		if r[1] == "" {
			withoutPhone++
		} else if !strings.HasPrefix(r[1], "'+") {
			t.Fatalf("phone cell %q is not formula-escaped", r[1])
		}
	}
	if withoutPhone != 1 {
		t.Fatalf("%d members without a number in %q, want 1", withoutPhone, recs)
	}
	if resp, _ := s.Get(t, path); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("without a token: %d", resp.StatusCode)
	}
	if resp, _ := s.Get(t, "/export/groups/participants.csv?accountId="+id+"&jid=1@g.us", "Authorization", "Bearer "+viewer); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown group: %d", resp.StatusCode)
	}
	if resp, _ := s.Get(t, "/export/groups/participants.csv", "Authorization", "Bearer "+viewer); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("without parameters: %d", resp.StatusCode)
	}
}
