package graph_test

// Live views end to end: subscriptions over real websockets against the real
// handler, driven by mutations and by a (fake) phone linking an account.

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"wagraph/internal/account"
	"wagraph/internal/apptest"
	"wagraph/internal/auth"
	"wagraph/internal/pubsub"
)

const statusSubscription = `subscription Status($id: ID) { accountStatusChanged(accountId: $id) {
	accountId version snapshot deleted
	account { id name status version phoneNumber activation { method secondsRemaining qr { code } } }
	change { version from to reason { code message } at }
} }`

const qrSubscription = `subscription QR($id: ID!) { qrCodeUpdated(accountId: $id) {
	accountId version statusVersion status code imageDataUrl pairingCode expiresAt secondsRemaining
	activationExpiresAt activationSecondsRemaining done deleted
} }`

// createAccount creates an account through the API and returns its id.
func createAccount(t *testing.T, s *apptest.Server, token, name string) string {
	t.Helper()
	data := apptest.Post(t, s.Client(apptest.Bearer(token)),
		fmt.Sprintf(`mutation { createAccount(input: {name: %q}) { account { id } } }`, name)).NoErrors(t)
	return apptest.Path(data, "createAccount", "account", "id").(string)
}

func mutate(t *testing.T, s *apptest.Server, token, mutation string) map[string]any {
	t.Helper()
	return apptest.Post(t, s.Client(apptest.Bearer(token)), mutation).NoErrors(t)
}

// statusStep is what one accountStatusChanged event should say.
type statusStep struct {
	version  int64
	status   string
	snapshot bool
}

func checkStatusEvent(t *testing.T, data map[string]any, id string, want statusStep) map[string]any {
	t.Helper()
	ev, _ := data["accountStatusChanged"].(map[string]any)
	if ev == nil {
		t.Fatalf("event without accountStatusChanged: %v", data)
	}
	if ev["accountId"] != id || int64At(t, ev, "version") != want.version || ev["snapshot"] != want.snapshot ||
		apptest.Path(ev, "account", "status") != want.status || int64At(t, ev, "account", "version") != want.version {
		t.Fatalf("status event %v, want account %s at version %d %s (snapshot %v)", ev, id, want.version, want.status, want.snapshot)
	}
	if want.snapshot != (ev["change"] == nil) {
		t.Fatalf("status event %v: a change must be there exactly when it is not a snapshot", ev)
	}
	if !want.snapshot && (apptest.Path(ev, "change", "to") != want.status || int64At(t, ev, "change", "version") != want.version) {
		t.Fatalf("status event change %v, want to %s at version %d", ev["change"], want.status, want.version)
	}
	return ev
}

// The account page's flow: a page subscribed to one account's status and QR
// codes, another to all accounts, while another tab starts the activation
// and a phone links it. Every stream starts with a snapshot, then follows
// the activation to ACTIVE with increasing versions.
func TestLiveViewsFollowAnActivation(t *testing.T) {
	s := startFakeStack(t)
	viewer, operator := s.token(t, auth.Viewer), s.token(t, auth.Operator)
	other := createAccount(t, s.Server, operator, "Already there")
	id := createAccount(t, s.Server, operator, "Sales 1")

	page := openLive(t, s.Server, apptest.TransportWS, viewer) // VIEWER may subscribe
	page.subscribe("status", statusSubscription, map[string]any{"id": id})
	page.subscribe("qr", qrSubscription, map[string]any{"id": id})
	list := openLive(t, s.Server, apptest.LegacyWS, viewer)
	list.subscribe("all", statusSubscription, nil)

	checkStatusEvent(t, page.next("status"), id, statusStep{1, "PENDING", true})
	snap := page.next("qr")["qrCodeUpdated"].(map[string]any)
	if snap["status"] != "PENDING" || snap["code"] != nil || snap["done"] != false || int64At(t, snap, "version") != 0 ||
		snap["activationExpiresAt"] != nil || snap["secondsRemaining"] != nil {
		t.Fatalf("QR snapshot before the activation = %v, want PENDING without a code, not done", snap)
	}
	// All accounts: a snapshot of each, in creation order.
	checkStatusEvent(t, list.next("all"), other, statusStep{1, "PENDING", true})
	checkStatusEvent(t, list.next("all"), id, statusStep{1, "PENDING", true})

	// Another tab starts the activation; the first code arrives at once.
	mutate(t, s.Server, operator, fmt.Sprintf(`mutation { startActivation(input: {accountId: %q, method: QR}) { account { status } } }`, id))
	ev := checkStatusEvent(t, page.next("status"), id, statusStep{2, "AWAITING_SCAN", false})
	if apptest.Path(ev, "change", "from") != "PENDING" || apptest.Path(ev, "change", "reason", "code") != "ACTIVATION_STARTED" ||
		apptest.Path(ev, "account", "activation", "method") != "QR" {
		t.Fatalf("AWAITING_SCAN event %v, want the change from PENDING and the account's activation", ev)
	}
	qr1 := page.next("qr")["qrCodeUpdated"].(map[string]any)
	if qr1["code"] != "qr-1" || qr1["status"] != "AWAITING_SCAN" || qr1["done"] != false || int64At(t, qr1, "statusVersion") != 2 ||
		!strings.HasPrefix(fmt.Sprint(qr1["imageDataUrl"]), "data:image/png;base64,") {
		t.Fatalf("first QR event = %v", qr1)
	}
	if n := int64At(t, qr1, "secondsRemaining"); n < 55 || n > 60 {
		t.Fatalf("secondsRemaining = %d, want about 60 for a fresh first code", n)
	}
	if n := int64At(t, qr1, "activationSecondsRemaining"); n < 295 || n > 300 {
		t.Fatalf("activationSecondsRemaining = %d, want about 300", n)
	}

	// WhatsApp rotates the code; the page gets the new one with its countdown.
	s.WhatsApp.emit(t, id, account.QRCode{Code: "qr-2", ExpiresAt: time.Now().Add(20 * time.Second)})
	qr2 := page.next("qr")["qrCodeUpdated"].(map[string]any)
	if qr2["code"] != "qr-2" || int64At(t, qr2, "version") <= int64At(t, qr1, "version") {
		t.Fatalf("rotated QR event = %v after %v, want qr-2 with a higher version", qr2, qr1)
	}
	if n := int64At(t, qr2, "secondsRemaining"); n < 15 || n > 20 {
		t.Fatalf("secondsRemaining = %d, want about 20", n)
	}

	// The phone scans, logs in, and the account becomes ACTIVE.
	jid := "15550100001:7@s.whatsapp.net"
	s.WhatsApp.emit(t, id, account.Paired{Device: account.Device{JID: jid}})
	s.WhatsApp.emit(t, id, account.Connected{Device: account.Device{JID: jid, PushName: "Sales"}})
	for _, st := range []statusStep{{3, "AUTHENTICATING", false}, {4, "WARMING", false}, {5, "ACTIVE", false}} {
		checkStatusEvent(t, page.next("status"), id, st)
	}
	lastVersion := int64At(t, qr2, "version")
	for _, want := range []string{"AUTHENTICATING", "WARMING", "ACTIVE"} {
		ev := page.next("qr")["qrCodeUpdated"].(map[string]any)
		done := want == "ACTIVE"
		if ev["status"] != want || ev["code"] != nil || ev["imageDataUrl"] != nil || ev["done"] != done {
			t.Fatalf("QR event %v, want %s without a code, done %v", ev, want, done)
		}
		if v := int64At(t, ev, "version"); v <= lastVersion {
			t.Fatalf("QR version %d after %d", v, lastVersion)
		} else {
			lastVersion = v
		}
	}
	page.completed("qr") // the page can stop: the activation is over

	// The list saw the same changes, newer versions only.
	version := int64(1)
	for _, want := range []string{"AWAITING_SCAN", "AUTHENTICATING", "WARMING", "ACTIVE"} {
		version++
		ev := checkStatusEvent(t, list.next("all"), id, statusStep{version, want, false})
		if want == "ACTIVE" && apptest.Path(ev, "account", "phoneNumber") != "+15550100001" {
			t.Fatalf("ACTIVE account %v, want the phone number", ev["account"])
		}
	}

	// Deleting the account ends its own status subscription; the list goes on.
	mutate(t, s.Server, s.token(t, auth.Admin), fmt.Sprintf(`mutation { deleteAccount(input: {accountId: %q}) { deletedAccountId } }`, id))
	for _, c := range []struct {
		ws *liveWS
		op string
	}{{page, "status"}, {list, "all"}} {
		ev := c.ws.next(c.op)["accountStatusChanged"].(map[string]any)
		if ev["deleted"] != true || int64At(t, ev, "version") != 6 || apptest.Path(ev, "account", "status") != "ACTIVE" {
			t.Fatalf("%s: delete event %v, want deleted at version 6 with the last state", c.op, ev)
		}
	}
	page.completed("status")
	mutate(t, s.Server, operator, fmt.Sprintf(`mutation { resetAccount(input: {accountId: %q}) { account { status } } }`, other))
	checkStatusEvent(t, list.next("all"), other, statusStep{2, "PENDING", false})
}

// A QR page opened while the activation already shows a code starts with
// that code; a pairing-code activation sends the code to type instead.
func TestQRSubscriptionDuringActivation(t *testing.T) {
	s := startFakeStack(t)
	operator := s.token(t, auth.Operator)
	id := createAccount(t, s.Server, operator, "Support")
	mutate(t, s.Server, operator, fmt.Sprintf(`mutation { startActivation(input: {accountId: %q, method: PAIRING_CODE, phoneNumber: "+49 151 23456789"}) { account { status } } }`, id))

	page := openLive(t, s.Server, apptest.TransportWS, operator)
	page.subscribe("qr", qrSubscription, map[string]any{"id": id})
	snap := page.next("qr")["qrCodeUpdated"].(map[string]any)
	if snap["pairingCode"] != "ABCD-EFGH" || snap["code"] != nil || snap["imageDataUrl"] != nil || snap["status"] != "AWAITING_SCAN" ||
		int64At(t, snap, "version") != 1 || snap["activationExpiresAt"] == nil {
		t.Fatalf("QR snapshot = %v, want the pairing code", snap)
	}
	// A reset ends the activation: the final event says where it went.
	mutate(t, s.Server, operator, fmt.Sprintf(`mutation { resetAccount(input: {accountId: %q}) { account { status } } }`, id))
	done := page.next("qr")["qrCodeUpdated"].(map[string]any)
	if done["done"] != true || done["status"] != "PENDING" || done["pairingCode"] != nil || done["activationExpiresAt"] != nil {
		t.Fatalf("QR event after reset = %v, want done at PENDING", done)
	}
	page.completed("qr")
}

// gqlgen's own client (legacy graphql-ws) sees the snapshot, then the
// changes made by mutations, with increasing versions.
func TestStatusSubscriptionWithGqlgenClient(t *testing.T) {
	s := apptest.Start(t, nil)
	operator := s.Token(t, auth.Operator)
	first := createAccount(t, s, operator, "First")

	sub := s.Client().WebsocketWithPayload(`subscription { accountStatusChanged { accountId version snapshot change { to } account { name status } } }`,
		map[string]any{"Authorization": "Bearer " + s.Token(t, auth.Viewer)})
	stuck := time.AfterFunc(30*time.Second, func() { _ = sub.Close() }) // gqlgen's client has no timeout
	defer stuck.Stop()
	defer func() { _ = sub.Close() }()
	type event struct {
		AccountStatusChanged struct {
			AccountID string
			Version   int
			Snapshot  bool
			Change    *struct{ To string }
			Account   struct{ Name, Status string }
		}
	}
	next := func() event {
		t.Helper()
		var ev event
		if err := sub.Next(&ev); err != nil {
			t.Fatalf("next event: %v", err)
		}
		return ev
	}
	if ev := next().AccountStatusChanged; ev.AccountID != first || !ev.Snapshot || ev.Version != 1 || ev.Change != nil || ev.Account.Name != "First" {
		t.Fatalf("snapshot = %+v", ev)
	}
	second := createAccount(t, s, operator, "Second")
	if ev := next().AccountStatusChanged; ev.AccountID != second || ev.Snapshot || ev.Version != 1 || ev.Change == nil || ev.Change.To != "PENDING" {
		t.Fatalf("creation event = %+v", ev)
	}
	for v := 2; v <= 3; v++ {
		mutate(t, s, operator, fmt.Sprintf(`mutation { resetAccount(input: {accountId: %q}) { account { status } } }`, first))
		if ev := next().AccountStatusChanged; ev.AccountID != first || ev.Version != v || ev.Account.Status != "PENDING" {
			t.Fatalf("reset event = %+v, want version %d", ev, v)
		}
	}
}

func TestSubscriptionRefusals(t *testing.T) {
	s := apptest.Start(t, nil)
	viewer := s.Token(t, auth.Viewer)

	t.Run("unknown account", func(t *testing.T) {
		c := openLive(t, s, apptest.TransportWS, viewer)
		for id, query := range map[string]string{"status": statusSubscription, "qr": qrSubscription} {
			c.subscribe(id, query, map[string]any{"id": "no-such-account"})
			if e := c.refused(id); e.Code() != "NOT_FOUND" || e.Suggestion() == "" {
				t.Errorf("%s of an unknown account: %+v, want NOT_FOUND", id, e)
			}
		}
	})
	t.Run("websocket without a token", func(t *testing.T) {
		ctx := wsCtx(t)
		ws := mustDial(t, ctx, s, apptest.TransportWS, nil)
		mustSend(t, ctx, ws, "connection_init", "", nil)
		if code, reason, _ := ws.ReadUntilClosed(ctx); code != 4401 || !strings.HasPrefix(reason, "UNAUTHENTICATED") {
			t.Errorf("closed with %d %q, want 4401 UNAUTHENTICATED", code, reason)
		}
	})
	t.Run("over HTTP", func(t *testing.T) {
		q := `subscription { accountStatusChanged { version } }`
		if e := apptest.Post(t, s.Client(), q).Only(t); e.Code() != "UNAUTHENTICATED" {
			t.Errorf("without a token: %+v", e)
		}
		e := apptest.Post(t, s.Client(apptest.Bearer(viewer)), q).Only(t)
		if e.Code() != "INVALID_INPUT" || !strings.Contains(e.Message, "websocket") || !strings.Contains(e.Suggestion(), "graphql-transport-ws") {
			t.Errorf("with a token: %+v, want INVALID_INPUT saying subscriptions need a websocket", e)
		}
	})
}

func TestSubscriptionCapPerConnection(t *testing.T) {
	s := apptest.Start(t, apptest.Env{"WS_MAX_SUBSCRIPTIONS": "2"})
	operator := s.Token(t, auth.Operator)
	id := createAccount(t, s, operator, "Capped")
	c := openLive(t, s, apptest.TransportWS, operator)
	c.subscribe("a", statusSubscription, nil)
	c.subscribe("b", qrSubscription, map[string]any{"id": id})
	c.next("a")
	c.next("b")
	c.subscribe("c", statusSubscription, map[string]any{"id": id})
	if e := c.refused("c"); e.Code() != "SUBSCRIPTION_LIMIT" {
		t.Fatalf("third subscription: %+v, want SUBSCRIPTION_LIMIT", e)
	}
	// Another connection has its own allowance.
	other := openLive(t, s, apptest.TransportWS, operator)
	other.subscribe("a", statusSubscription, map[string]any{"id": id})
	other.next("a")

	metrics := scrapeMetrics(t, s)
	for _, series := range []string{
		`wagraph_subscriptions{kind="accountStatusChanged"} 2`,
		`wagraph_subscriptions{kind="qrCodeUpdated"} 1`,
		`wagraph_ws_connections 2`,
	} {
		if !strings.Contains(metrics, series+"\n") {
			t.Errorf("metrics lack %q", series)
		}
	}

	c.stop("a")
	c.completed("a")
	c.subscribe("d", statusSubscription, map[string]any{"id": id})
	checkStatusEvent(t, c.next("d"), id, statusStep{1, "PENDING", true})
}

func scrapeMetrics(t *testing.T, s *apptest.Server) string {
	t.Helper()
	_, body := s.Get(t, "/metrics")
	return string(body)
}

// metricValue returns the value of one series in a scrape, or -1.
func metricValue(metrics, series string) float64 {
	for line := range strings.Lines(metrics) {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			var v float64
			if _, err := fmt.Sscan(rest, &v); err == nil {
				return v
			}
		}
	}
	return -1
}

const bulkSubscription = `subscription { accountStatusChanged { version change { reason { message } } } }`

// stallOneClient subscribes two clients to all status events, then
// publishes events of eventSize bytes, each once the reading client has the
// previous one, until cutOff says (from a metrics scrape) that the server
// dealt with the client that stopped reading. It fails if a delivery to the
// reading client takes longer than maxDelay: the publisher and the other
// subscribers must never wait for the stuck one.
func stallOneClient(t *testing.T, s *apptest.Server, eventSize int, maxDelay time.Duration, cutOff func(metrics string) bool) (reading, stuck *liveWS) {
	t.Helper()
	viewer := s.Token(t, auth.Viewer)
	createAccount(t, s, s.Token(t, auth.Operator), "Watched")
	reading = openLive(t, s, apptest.TransportWS, viewer)
	reading.subscribe("r", bulkSubscription, nil)
	stuck = openLive(t, s, apptest.TransportWS, viewer)
	stuck.subscribe("s", bulkSubscription, nil)
	reading.next("r") // both are subscribed once their snapshot arrived
	stuck.next("s")

	message := strings.Repeat("x", eventSize)
	var slowest time.Duration
	for v := int64(1); ; v++ {
		if v > 2000 {
			t.Fatal("the client that stopped reading was not cut off after 2000 events")
		}
		published := time.Now()
		publishStatus(t, s, bulkEvent(v, message))
		got := reading.next("r")
		slowest = max(slowest, time.Since(published))
		if got := int64At(t, got, "accountStatusChanged", "version"); got != v {
			t.Fatalf("the reading client got version %d, want %d", got, v)
		}
		if cutOff(scrapeMetrics(t, s)) {
			t.Logf("cut off after %d events; slowest delivery to the reading client: %v", v, slowest)
			break
		}
	}
	if slowest > maxDelay {
		t.Fatalf("the reading client waited %v for an event while the other was stuck", slowest)
	}
	return reading, stuck
}

func bulkEvent(version int64, message string) account.StatusEvent {
	return account.StatusEvent{StatusChange: account.StatusChange{
		AccountID: "bulk", Version: version, To: account.StatusActive, At: time.Now(),
		Reason: account.Reason{Code: "BULK", Message: message},
	}}
}

// A client that stops reading is cut off with SUBSCRIBER_TOO_SLOW, after the
// events it had buffered, while another subscriber of the same topic keeps
// getting every event at once.
func TestSlowSubscriberIsCutOffWithoutDelayingOthers(t *testing.T) {
	s := apptest.Start(t, apptest.Env{
		"PUBSUB_BUFFER": "16",
		// Long enough that a stall caused by the stuck client would show,
		// and that the cut-off can only come from the bus.
		"WS_WRITE_TIMEOUT":      "1m",
		"WS_KEEPALIVE_INTERVAL": "1m",
	})
	// Large events fill the stuck client's socket buffers after some dozens.
	reading, stuck := stallOneClient(t, s, 128<<10, 5*time.Second, func(metrics string) bool {
		return metricValue(metrics, "wagraph_bus_slow_subscribers_cut_total") >= 1
	})

	// The stuck client reads again: what was buffered, in order, then the error.
	var last int64
	for {
		m := stuck.read("s")
		if m.Type == "error" {
			errs := apptest.Errors(t, m.Payload)
			if len(errs) != 1 || errs[0].Code() != "SUBSCRIBER_TOO_SLOW" || errs[0].Extensions["retryable"] != true {
				t.Fatalf("the slow subscriber's error: %s", m.Payload)
			}
			break
		}
		var resp struct {
			Data struct{ AccountStatusChanged struct{ Version int64 } }
		}
		if err := json.Unmarshal(m.Payload, &resp); m.Type != "next" || err != nil {
			t.Fatalf("the slow subscriber got %s %.200s", m.Type, m.Payload)
		}
		if v := resp.Data.AccountStatusChanged.Version; v != last+1 {
			t.Fatalf("the slow subscriber got version %d after %d: events in between were skipped silently", v, last)
		} else {
			last = v
		}
	}
	metrics := scrapeMetrics(t, s)
	if v := metricValue(metrics, `wagraph_subscriptions_failed_total{code="SUBSCRIBER_TOO_SLOW",kind="accountStatusChanged"}`); v != 1 {
		t.Errorf("failed subscriptions metric = %v, want 1", v)
	}
	if v := metricValue(metrics, "wagraph_bus_dropped_total"); v < 1 {
		t.Errorf("dropped events metric = %v, want at least 1", v)
	}
	// The connection stays usable: the client subscribes again and starts
	// over from a fresh snapshot; the other subscriber never noticed.
	stuck.subscribe("s2", bulkSubscription, nil)
	stuck.next("s2")
	publishStatus(t, s, bulkEvent(5000, "after"))
	if v := int64At(t, reading.next("r"), "accountStatusChanged", "version"); v != 5000 {
		t.Fatalf("the reading client got version %d after the cut-off", v)
	}
}

// With a bus buffer too large to overflow soon, a client that stops reading
// is disconnected by the websocket write timeout instead; the other
// subscriber is not held up meanwhile.
func TestStuckClientIsDisconnectedByWriteTimeout(t *testing.T) {
	s := apptest.Start(t, apptest.Env{
		"PUBSUB_BUFFER":         "100000",
		"WS_WRITE_TIMEOUT":      "1s",
		"WS_KEEPALIVE_INTERVAL": "1m",
	})
	reading, stuck := stallOneClient(t, s, 16<<10, 5*time.Second, func(metrics string) bool {
		return metricValue(metrics, "wagraph_ws_connections") == 1
	})
	if code, reason, _ := stuck.ws.ReadUntilClosed(stuck.ctx); code == websocket.StatusNormalClosure {
		t.Errorf("the stuck client's connection closed normally (%q); want it dropped", reason)
	}
	publishStatus(t, s, bulkEvent(5000, "after"))
	if v := int64At(t, reading.next("r"), "accountStatusChanged", "version"); v != 5000 {
		t.Fatalf("the reading client got version %d after the other was disconnected", v)
	}
}

// publishStatus publishes a status event on the all-accounts topic, as the
// account service does.
func publishStatus(t *testing.T, s *apptest.Server, ev account.StatusEvent) {
	t.Helper()
	if err := pubsub.Publish(t.Context(), s.App.Bus, account.AllStatusTopic, ev); err != nil {
		t.Fatal(err)
	}
}

// Subscribers with the same query share the encoding of an event (see
// subscriptionState.respond); those with other fields, other variables or
// on the other protocol still get exactly what they asked for.
func TestSharedEncodingKeepsEachQuerysShape(t *testing.T) {
	s := startFakeStack(t)
	viewer, operator := s.token(t, auth.Viewer), s.token(t, auth.Operator)
	id := createAccount(t, s.Server, operator, "Shared")

	one := openLive(t, s.Server, apptest.TransportWS, viewer)
	one.subscribe("full", statusSubscription, nil)
	one.subscribe("ids", `subscription { accountStatusChanged { accountId version } }`, nil)
	one.subscribe("page", statusSubscription, map[string]any{"id": id})
	two := openLive(t, s.Server, apptest.LegacyWS, operator)
	two.subscribe("full", statusSubscription, nil)
	three := openLive(t, s.Server, apptest.TransportWS, viewer)
	three.subscribe("full", statusSubscription, nil)
	for _, c := range []*liveWS{one, two, three} {
		checkStatusEvent(t, c.next("full"), id, statusStep{1, "PENDING", true})
	}
	one.next("ids")
	checkStatusEvent(t, one.next("page"), id, statusStep{1, "PENDING", true})

	for v := int64(2); v <= 3; v++ {
		mutate(t, s.Server, operator, fmt.Sprintf(`mutation { resetAccount(input: {accountId: %q}) { account { status } } }`, id))
		full := checkStatusEvent(t, one.next("full"), id, statusStep{v, "PENDING", false})
		for _, c := range []*liveWS{two, three} {
			if got := checkStatusEvent(t, c.next("full"), id, statusStep{v, "PENDING", false}); !reflect.DeepEqual(got, full) {
				t.Fatalf("the same query got %v and %v", got, full)
			}
		}
		checkStatusEvent(t, one.next("page"), id, statusStep{v, "PENDING", false})
		ids := one.next("ids")["accountStatusChanged"].(map[string]any)
		if len(ids) != 2 || ids["accountId"] != id || int64At(t, ids, "version") != v {
			t.Fatalf("the query for ids only got %v", ids)
		}
	}
}
