package graph_test

// Tests of the account API through the real GraphQL handler (NewHandler with
// its directives, error presenter and limits) over an account service with a
// fake WhatsApp session, as a new user would drive it from GraphiQL.

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/99designs/gqlgen/client"
	"github.com/rs/zerolog"

	"wagraph/graph"
	"wagraph/internal/account"
	"wagraph/internal/apperr"
	"wagraph/internal/apptest"
	"wagraph/internal/auth"
	"wagraph/internal/pubsub"
	"wagraph/internal/store"
	"wagraph/internal/store/storetest"
	"wagraph/internal/supervisor"
)

// qrSessions pairs by handing out one QR code (or pairing code) at once and
// otherwise does nothing; it stands in for WhatsApp.
type qrSessions struct{ sink supervisor.EventSink }

func (q qrSessions) Start(ctx context.Context, req supervisor.StartRequest) (account.SessionEvent, error) {
	if req.JID != "" {
		return nil, q.sink.HandleSessionEvent(ctx, req.SessionRef, account.Connected{Device: account.Device{JID: req.JID}})
	}
	if req.Method == account.MethodPairingCode {
		return account.PairingCode{Code: "WXYZ-1234", ExpiresAt: time.Now().Add(160 * time.Second)}, nil
	}
	return account.QRCode{Code: "2@ref,noise,identity,adv", ExpiresAt: time.Now().Add(time.Minute)}, nil
}
func (qrSessions) Stop(context.Context, string) error              { return nil }
func (qrSessions) Logout(context.Context, string, string) error    { return nil }
func (qrSessions) DeleteDevice(context.Context, string) error      { return nil }
func (qrSessions) HasDevice(context.Context, string) (bool, error) { return true, nil }
func (qrSessions) Live(string) (account.Device, bool)              { return account.Device{}, false }
func (qrSessions) StoredDevice(context.Context, string, string) (account.Device, error) {
	return account.Device{}, nil
}
func (qrSessions) Close(context.Context) error { return nil }

// accountAPI serves the GraphQL handler with the account service; the role
// of each request comes from the X-Test-Role header.
func accountAPI(t *testing.T) (*account.Service, func(role auth.Role) *client.Client) {
	t.Helper()
	db := storetest.Open(t, store.SQLite)
	bus := pubsub.NewMemory(pubsub.Options{})
	t.Cleanup(func() { _ = bus.Close() })
	svc := account.New(db, bus, account.Options{Logger: zerolog.Nop()})
	sup := supervisor.New(svc, func(sink supervisor.EventSink) supervisor.Sessions { return qrSessions{sink} }, supervisor.Options{Logger: zerolog.Nop()})
	if err := sup.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sup.Close() })
	h := graph.NewHandler(&graph.Resolver{AccountService: svc, Supervisor: sup}, graph.HandlerOptions{
		ComplexityLimit: 1000, ParserTokenLimit: 10000, Log: zerolog.Nop(),
	})
	withRole := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if role := r.Header.Get("X-Test-Role"); role != "" {
			r = r.WithContext(auth.WithPrincipal(r.Context(), auth.Principal{Role: auth.Role(role)}))
		}
		h.ServeHTTP(w, r)
	})
	return svc, func(role auth.Role) *client.Client {
		return client.New(withRole, client.AddHeader("X-Test-Role", string(role)))
	}
}

const accountFields = `id name status version phoneNumber statusReason { code message suggestion }
	activation { method expiresAt secondsRemaining pairingCode pairingPhoneNumber qr { code imageDataUrl expiresAt } }`

func TestAccountLifecycleOverGraphQL(t *testing.T) {
	_, as := accountAPI(t)
	op := as(auth.Operator)

	data := apptest.Post(t, op, `mutation { createAccount(input: {name: "Sales Berlin"}) { account { `+accountFields+` } } }`).NoErrors(t)
	id, _ := apptest.Path(data, "createAccount", "account", "id").(string)
	if id == "" || apptest.Path(data, "createAccount", "account", "status") != "PENDING" ||
		apptest.Path(data, "createAccount", "account", "statusReason", "code") != "CREATED" {
		t.Fatalf("createAccount = %v", data)
	}

	data = apptest.Post(t, op, fmt.Sprintf(`mutation { startActivation(input: {accountId: %q, method: QR}) { account { `+accountFields+` } } }`, id)).NoErrors(t)
	act := apptest.Path(data, "startActivation", "account", "activation")
	if apptest.Path(act, "method") != "QR" || apptest.Path(act, "qr", "code") != "2@ref,noise,identity,adv" {
		t.Fatalf("activation = %v", act)
	}
	if img, _ := apptest.Path(act, "qr", "imageDataUrl").(string); !strings.HasPrefix(img, "data:image/png;base64,") {
		t.Fatalf("imageDataUrl = %.40q", img)
	}
	if secs, _ := apptest.Path(act, "secondsRemaining").(float64); secs < 290 || secs > 300 {
		t.Fatalf("secondsRemaining = %v, want about 300", secs)
	}

	viewer := as(auth.Viewer)
	data = apptest.Post(t, viewer, fmt.Sprintf(`{ account(id: %q) { status statusHistory(first: 1) { totalCount edges { cursor node { version from to reason { code } } } pageInfo { hasNextPage endCursor } } } }`, id)).NoErrors(t)
	hist := apptest.Path(data, "account", "statusHistory")
	if apptest.Path(hist, "totalCount") != float64(2) || apptest.Path(hist, "pageInfo", "hasNextPage") != true {
		t.Fatalf("statusHistory = %v", hist)
	}
	edges := apptest.Path(hist, "edges").([]any)
	if len(edges) != 1 || apptest.Path(edges[0], "node", "to") != "AWAITING_SCAN" || apptest.Path(edges[0], "node", "from") != "PENDING" {
		t.Fatalf("newest change = %v", edges)
	}
	cursor := apptest.Path(hist, "pageInfo", "endCursor").(string)
	data = apptest.Post(t, viewer, fmt.Sprintf(`{ account(id: %q) { statusHistory(after: %q) { edges { node { version from to } } pageInfo { hasNextPage hasPreviousPage } } } }`, id, cursor)).NoErrors(t)
	older := apptest.Path(data, "account", "statusHistory", "edges").([]any)
	if len(older) != 1 || apptest.Path(older[0], "node", "from") != nil || apptest.Path(data, "account", "statusHistory", "pageInfo", "hasPreviousPage") != true {
		t.Fatalf("older changes = %v", data)
	}

	data = apptest.Post(t, op, fmt.Sprintf(`mutation { resetAccount(input: {accountId: %q}) { account { `+accountFields+` } } }`, id)).NoErrors(t)
	acc := apptest.Path(data, "resetAccount", "account")
	if apptest.Path(acc, "status") != "PENDING" || apptest.Path(acc, "statusReason", "code") != "RESET_BY_USER" ||
		apptest.Path(acc, "statusReason", "suggestion") == nil || apptest.Path(acc, "activation") != nil {
		t.Fatalf("after reset = %v", acc)
	}

	data = apptest.Post(t, op, fmt.Sprintf(`mutation { updateAccount(input: {accountId: %q, name: "Sales Munich"}) { account { name } } }`, id)).NoErrors(t)
	if apptest.Path(data, "updateAccount", "account", "name") != "Sales Munich" {
		t.Fatalf("updateAccount = %v", data)
	}

	data = apptest.Post(t, op, fmt.Sprintf(`mutation { startActivation(input: {accountId: %q, method: PAIRING_CODE, phoneNumber: "+49 151 23456789"}) { account { `+accountFields+` } } }`, id)).NoErrors(t)
	act = apptest.Path(data, "startActivation", "account", "activation")
	if apptest.Path(act, "pairingCode") != "WXYZ-1234" || apptest.Path(act, "pairingPhoneNumber") != "+4915123456789" || apptest.Path(act, "qr") != nil {
		t.Fatalf("pairing activation = %v", act)
	}

	for _, c := range []struct {
		name, mutation, code string
	}{
		{"reconnect without a device", `reconnectAccount(input: {accountId: %q}) { account { id } }`, string(apperr.InvalidTransition)},
		{"logout while linking", `logoutAccount(input: {accountId: %q}) { account { id } }`, string(apperr.InvalidTransition)},
		{"bad pairing number", `startActivation(input: {accountId: %q, method: PAIRING_CODE, phoneNumber: "12"}) { account { id } }`, string(apperr.InvalidInput)},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := apptest.Post(t, op, "mutation { "+fmt.Sprintf(c.mutation, id)+" }").Only(t)
			if e.Code() != c.code || e.Suggestion() == "" {
				t.Fatalf("error %q code %s suggestion %q, want %s with a suggestion", e.Message, e.Code(), e.Suggestion(), c.code)
			}
		})
	}

	// Only ADMIN deletes.
	del := fmt.Sprintf(`mutation { deleteAccount(input: {accountId: %q}) { deletedAccountId } }`, id)
	if e := apptest.Post(t, op, del).Only(t); e.Code() != string(apperr.Forbidden) {
		t.Fatalf("OPERATOR delete: %s %q", e.Code(), e.Message)
	}
	data = apptest.Post(t, as(auth.Admin), del).NoErrors(t)
	if apptest.Path(data, "deleteAccount", "deletedAccountId") != id {
		t.Fatalf("deleteAccount = %v", data)
	}
	if e := apptest.Post(t, viewer, fmt.Sprintf(`{ account(id: %q) { id } }`, id)).Only(t); e.Code() != string(apperr.NotFound) {
		t.Fatalf("deleted account: %s %q", e.Code(), e.Message)
	}
}

func TestAccountsListOverGraphQL(t *testing.T) {
	svc, as := accountAPI(t)
	ctx := context.Background()
	for _, name := range []string{"Shop A", "Shop B", "Support"} {
		if _, err := svc.Create(ctx, account.CreateInput{Name: name}); err != nil {
			t.Fatal(err)
		}
	}
	viewer := as(auth.Viewer)
	q := `query($after: String, $search: String, $status: [AccountStatus!]) {
		accounts(first: 2, after: $after, search: $search, status: $status) {
			totalCount edges { cursor node { name status } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }`
	data := apptest.Post(t, viewer, q, client.Var("search", "shop")).NoErrors(t)
	conn := apptest.Path(data, "accounts")
	if apptest.Path(conn, "totalCount") != float64(2) || len(apptest.Path(conn, "edges").([]any)) != 2 || apptest.Path(conn, "pageInfo", "hasNextPage") != false {
		t.Fatalf("search = %v", conn)
	}
	data = apptest.Post(t, viewer, q, client.Var("status", []string{"PENDING"})).NoErrors(t)
	conn = apptest.Path(data, "accounts")
	if apptest.Path(conn, "totalCount") != float64(3) || apptest.Path(conn, "pageInfo", "hasNextPage") != true || apptest.Path(conn, "pageInfo", "hasPreviousPage") != false {
		t.Fatalf("first page = %v", conn)
	}
	data = apptest.Post(t, viewer, q, client.Var("after", apptest.Path(conn, "pageInfo", "endCursor"))).NoErrors(t)
	edges := apptest.Path(data, "accounts", "edges").([]any)
	if len(edges) != 1 || apptest.Path(edges[0], "node", "name") != "Support" || apptest.Path(data, "accounts", "pageInfo", "hasPreviousPage") != true {
		t.Fatalf("second page = %v", data)
	}
	data = apptest.Post(t, viewer, q, client.Var("search", "nothing like it")).NoErrors(t)
	if apptest.Path(data, "accounts", "pageInfo", "endCursor") != nil || len(apptest.Path(data, "accounts", "edges").([]any)) != 0 {
		t.Fatalf("empty page = %v", data)
	}

	if e := apptest.Post(t, viewer, `{ accounts(first: 101) { totalCount } }`).Only(t); e.Code() != string(apperr.InvalidInput) {
		t.Fatalf("first 101: %s %q", e.Code(), e.Message)
	}
	if e := apptest.Post(t, viewer, `mutation { createAccount(input: {name: "x"}) { account { id } } }`).Only(t); e.Code() != string(apperr.Forbidden) {
		t.Fatalf("VIEWER create: %s %q", e.Code(), e.Message)
	}
}
