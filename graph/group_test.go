package graph_test

// Groups and scraping through the real GraphQL handler, websockets
// included: refresh and list groups, page a group's members, scrape with
// progress over scrapeProgress, and the roles (VIEWER reads, OPERATOR
// refreshes and scrapes).

import (
	"context"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/99designs/gqlgen/client"
	"github.com/rs/zerolog"

	"wagraph/graph"
	"wagraph/internal/apperr"
	"wagraph/internal/apptest"
	"wagraph/internal/auth"
	"wagraph/internal/contact"
	"wagraph/internal/jobs"
	"wagraph/internal/pubsub"
	"wagraph/internal/store"
	"wagraph/internal/store/storetest"
)

// groupWA answers the group port from memory: one account in two groups.
type groupWA struct{}

var waGroups = []contact.WAGroup{
	{Group: contact.Group{JID: "120363000000000001@g.us", Name: "Runners", AddressingMode: "pn"}, Participants: []contact.Participant{
		{JID: "4915123456781@s.whatsapp.net", Phone: "+4915123456781", LID: "1001@lid", SuperAdmin: true},
		{JID: "4915123456782@s.whatsapp.net", Phone: "+4915123456782", LID: "1002@lid"},
		{JID: "4915123456783@s.whatsapp.net", Phone: "+4915123456783", LID: "1003@lid"},
	}},
	{Group: contact.Group{JID: "120363000000000002@g.us", Name: "Market", AddressingMode: "lid", Community: true}, Participants: []contact.Participant{
		{JID: "1001@lid", Phone: "+4915123456781", LID: "1001@lid", Admin: true},
		{JID: "2002@lid", LID: "2002@lid"},
	}},
}

func (groupWA) JoinedGroups(_ context.Context, accountID string) ([]contact.WAGroup, error) {
	if accountID != "acc1" {
		return nil, contact.ErrNotConnected
	}
	return waGroups, nil
}

func (w groupWA) GroupInfo(ctx context.Context, accountID, jid string) (*contact.WAGroup, error) {
	gs, err := w.JoinedGroups(ctx, accountID)
	for i := range gs {
		if gs[i].JID == jid {
			return &gs[i], nil
		}
	}
	if err == nil {
		err = contact.ErrGroupNotFound
	}
	return nil, err
}

func (groupWA) PhonesForLIDs(context.Context, string, []string) (map[string]string, error) {
	return map[string]string{}, nil
}

type groupStack struct {
	srv  *apptest.Server
	auth *auth.Service
}

func startGroupStack(t *testing.T, db *store.DB) *groupStack {
	t.Helper()
	bus := pubsub.NewMemory(pubsub.Options{})
	t.Cleanup(func() { _ = bus.Close() })
	svc := contact.New(db, contact.Options{Logger: zerolog.Nop()})
	reg := jobs.NewRegistry()
	js, err := jobs.New(db, reg, jobs.Options{Logger: zerolog.Nop(), Workers: 2, PollInterval: 20 * time.Millisecond, StopTimeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	groups := contact.NewGroupService(svc, bus, js, groupWA{}, contact.GroupOptions{Logger: zerolog.Nop(), Interval: time.Millisecond})
	groups.RegisterJobs(reg)
	if err := js.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = js.Close() })
	authSvc := auth.NewService(db.DB, false)
	h := graph.NewHandler(&graph.Resolver{Auth: authSvc, ContactService: svc, GroupService: groups, JobService: js}, graph.HandlerOptions{
		ComplexityLimit: 1000, ParserTokenLimit: 5000, MaxMessageBytes: 1 << 20,
		InitTimeout: 5 * time.Second, KeepAlive: time.Minute, MaxSubscriptions: 10, WriteTimeout: 10 * time.Second,
		Log: zerolog.Nop(),
	})
	srv := httptest.NewServer(authSvc.Middleware(h))
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
	})
	return &groupStack{srv: &apptest.Server{HTTP: srv, URL: srv.URL}, auth: authSvc}
}

func (s *groupStack) token(t *testing.T, role auth.Role) string {
	t.Helper()
	_, secret, err := s.auth.Create(context.Background(), "test-"+string(role), role)
	if err != nil {
		t.Fatal(err)
	}
	return secret
}

func (s *groupStack) client(t *testing.T, role auth.Role) *client.Client {
	return client.New(s.srv.HTTP.Config.Handler, client.AddHeader("Authorization", "Bearer "+s.token(t, role)))
}

func TestGroupsAndScrapingOverGraphQL(t *testing.T) {
	storetest.RunDialects(t, func(t *testing.T, db *store.DB) {
		s := startGroupStack(t, db)
		viewer, op := s.client(t, auth.Viewer), s.client(t, auth.Operator)

		for _, m := range []string{
			`refreshGroups(input: {accountId: "acc1"}) { groupCount }`,
			`scrapeGroups(input: {accountId: "acc1", all: true}) { job { id } }`,
			`cancelScrape(input: {id: "1"}) { job { id } }`,
		} {
			if e := apptest.Post(t, viewer, "mutation { "+m+" }").Only(t); e.Code() != string(apperr.Forbidden) {
				t.Fatalf("VIEWER %s: %s %q", m, e.Code(), e.Message)
			}
		}
		// Before a refresh there is nothing, and listing never calls WhatsApp.
		data := apptest.Post(t, viewer, `{ groups(accountId: "acc1") { totalCount edges { node { jid } } } }`).NoErrors(t)
		if apptest.Path(data, "groups", "totalCount") != float64(0) {
			t.Fatalf("groups before refresh = %v", data)
		}
		if e := apptest.Post(t, op, `mutation { refreshGroups(input: {accountId: "offline"}) { groupCount } }`).Only(t); e.Code() != string(apperr.Unavailable) {
			t.Fatalf("refresh of an account without a session: %s %q", e.Code(), e.Message)
		}
		data = apptest.Post(t, op, `mutation { refreshGroups(input: {accountId: "acc1"}) { groupCount groups { totalCount edges { node { name } } } } }`).NoErrors(t)
		if apptest.Path(data, "refreshGroups", "groupCount") != float64(2) || apptest.Path(data, "refreshGroups", "groups", "totalCount") != float64(2) {
			t.Fatalf("refresh = %v", data)
		}

		// Pages of one group, by name.
		q := `query($after: String) { groups(accountId: "acc1", first: 1, after: $after) { totalCount
			edges { node { jid name community addressing participantCount } } pageInfo { hasNextPage endCursor } } }`
		var names []any
		var after any
		for range 3 {
			data = apptest.Post(t, viewer, q, client.Var("after", after)).NoErrors(t)
			for _, e := range apptest.Path(data, "groups", "edges").([]any) {
				names = append(names, apptest.Path(e, "node", "name"), apptest.Path(e, "node", "addressing"))
			}
			if apptest.Path(data, "groups", "pageInfo", "hasNextPage") != true {
				break
			}
			after = apptest.Path(data, "groups", "pageInfo", "endCursor")
		}
		if fmt.Sprint(names) != "[Market BY_LID Runners BY_PHONE]" {
			t.Fatalf("groups over pages: %v", names)
		}
		if e := apptest.Post(t, viewer, `{ groups(accountId: "acc1", after: "bm9wZQ") { totalCount } }`).Only(t); e.Code() != string(apperr.InvalidInput) {
			t.Fatalf("bad cursor: %s", e.Code())
		}

		// One group with its members, paged.
		g := `query($after: String) { group(accountId: "acc1", jid: "120363000000000001@g.us") { name
			participants(first: 2, after: $after) { totalCount edges { node { jid phoneNumber lid role isAdmin } } pageInfo { hasNextPage endCursor } } } }`
		data = apptest.Post(t, viewer, g).NoErrors(t)
		members := apptest.Path(data, "group", "participants")
		edges := apptest.Path(members, "edges").([]any)
		if apptest.Path(members, "totalCount") != float64(3) || len(edges) != 2 || apptest.Path(edges[0], "node", "role") != "SUPERADMIN" ||
			apptest.Path(edges[0], "node", "phoneNumber") != "+4915123456781" || apptest.Path(members, "pageInfo", "hasNextPage") != true {
			t.Fatalf("members = %v", members)
		}
		data = apptest.Post(t, viewer, g, client.Var("after", apptest.Path(members, "pageInfo", "endCursor"))).NoErrors(t)
		if edges := apptest.Path(data, "group", "participants", "edges").([]any); len(edges) != 1 || apptest.Path(edges[0], "node", "role") != "MEMBER" {
			t.Fatalf("second page of members = %v", data)
		}
		if e := apptest.Post(t, viewer, `{ group(accountId: "acc1", jid: "1@g.us") { name } }`).Only(t); e.Code() != string(apperr.NotFound) {
			t.Fatalf("unknown group: %s", e.Code())
		}

		// Scrape with bad input, then for real, followed over the websocket.
		if e := apptest.Post(t, op, `mutation { scrapeGroups(input: {accountId: "acc1"}) { job { id } } }`).Only(t); e.Code() != string(apperr.InvalidInput) {
			t.Fatalf("scrape without groups: %s", e.Code())
		}
		data = apptest.Post(t, op, `mutation { scrapeGroups(input: {accountId: "acc1", all: true}) { job { id state allGroups } } }`).NoErrors(t)
		id := apptest.Path(data, "scrapeGroups", "job", "id").(string)
		if apptest.Path(data, "scrapeGroups", "job", "state") != "QUEUED" {
			t.Fatalf("scrapeGroups = %v", data)
		}
		ws := openLive(t, s.srv, apptest.TransportWS, s.token(t, auth.Viewer))
		ws.subscribe("p", `subscription($id: ID!) { scrapeProgress(jobId: $id) { id state version groupsDone contactsCreated membersWithoutPhone } }`, map[string]any{"id": id})
		var last map[string]any
		versions := []any{}
		for {
			ev := ws.next("p")
			last = apptest.Path(ev, "scrapeProgress").(map[string]any)
			versions = append(versions, last["version"])
			if s := last["state"]; s == "DONE" || s == "FAILED" || s == "CANCELED" {
				break
			}
		}
		ws.completed("p")
		if last["state"] != "DONE" || last["groupsDone"] != float64(2) || last["contactsCreated"] != float64(4) || last["membersWithoutPhone"] != float64(1) {
			t.Fatalf("last event %v (versions %v)", last, versions)
		}
		for i := 1; i < len(versions); i++ {
			if versions[i].(float64) <= versions[i-1].(float64) {
				t.Fatalf("versions went back: %v", versions)
			}
		}
		data = apptest.Post(t, viewer, `{ scrapeJobs(accountId: "acc1") { totalCount edges { node { id state membersSeen } } } }`).NoErrors(t)
		if apptest.Path(data, "scrapeJobs", "totalCount") != float64(1) {
			t.Fatalf("scrapeJobs = %v", data)
		}
		data = apptest.Post(t, viewer, `query($id: ID!) { scrapeJob(id: $id) { state membersSeen finishedAt } }`, client.Var("id", id)).NoErrors(t)
		if apptest.Path(data, "scrapeJob", "membersSeen") != float64(5) {
			t.Fatalf("scrapeJob = %v", data)
		}
		if e := apptest.Post(t, op, `mutation($id: ID!) { cancelScrape(input: {id: $id}) { job { id } } }`, client.Var("id", id)).Only(t); e.Code() != string(apperr.InvalidTransition) {
			t.Fatalf("cancel a finished scrape: %s", e.Code())
		}
		// A subscription to an unknown job is refused with NOT_FOUND.
		ws.subscribe("x", `subscription { scrapeProgress(jobId: "999999") { id } }`, nil)
		if e := ws.refused("x"); e.Code() != string(apperr.NotFound) {
			t.Fatalf("unknown job: %s", e.Code())
		}
		// The scraped members are contacts with the group as their source.
		data = apptest.Post(t, viewer, `{ contacts(filter: {accountId: "acc1", groupJid: "120363000000000002@g.us"}) { totalCount } }`).NoErrors(t)
		if apptest.Path(data, "contacts", "totalCount") != float64(2) {
			t.Fatalf("contacts of the market group = %v", data)
		}
	})
}
