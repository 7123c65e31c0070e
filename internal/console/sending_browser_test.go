package console_test

// The sending screens in a real browser against a --simulate server: a
// batch to a persona drains live to done, an unknown placeholder is refused
// with the server's suggestion, a double click sends once, a message to a
// number not on WhatsApp shows why it failed, a batch is canceled through
// the dialog, and sending is paused and resumed from the gauges.

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/99designs/gqlgen/client"
	"github.com/chromedp/chromedp"
	"go.mau.fi/whatsmeow/types"

	"wagraph/internal/apptest"
	"wagraph/internal/auth"
	"wagraph/internal/contact"
	"wagraph/internal/wasim"
)

// waitTextWithin is waitText with a shorter timeout, for what must show
// live (sooner than any polling would).
func waitTextWithin(d time.Duration, sel, want string) chromedp.Action[chromedp.Void] {
	return void(chromedp.Poll[bool](`(() => { const el = document.querySelector(`+jsString(sel)+`);
		return !!el && el.offsetParent !== null && el.textContent.includes(`+jsString(want)+`); })()`, chromedp.WithPollingTimeout(d)))
}

func TestConsoleSendsBatchesAndPauses(t *testing.T) {
	ctx := laptop(t, 5*time.Minute)
	s := apptest.Start(t, apptest.Env{"SIMULATE": "true", "SIMULATE_SCAN_DELAY": "300ms", "LOG_LEVEL": "warn", "RATE_LIMIT_WARMUP": "off"})
	opToken := s.Token(t, auth.Operator)
	op := s.Client(apptest.Bearer(opToken))
	id := apptest.Path(apptest.Post(t, op, `mutation { createAccount(input: {name: "Campaign phone"}) { account { id } } }`).NoErrors(t), "createAccount", "account", "id").(string)
	apptest.Post(t, op, `mutation($id: ID!) { startActivation(input: {accountId: $id, method: QR}) { account { status } } }`, client.Var("id", id)).NoErrors(t)
	signIn(t, ctx, s.URL, opToken)
	do(t, ctx, "the account links",
		chromedp.Navigate(s.URL+"/#/accounts/"+id),
		waitText(`h1 .badge`, "ACTIVE"),
	)
	// Limits that let a batch drain in seconds.
	apptest.Post(t, op, `mutation($id: ID!) { setRateLimits(input: {accountId: $id, limits: [{max: 1000, windowSeconds: 60}], newChatsPerDay: 1000}) { limits { custom } } }`,
		client.Var("id", id)).NoErrors(t)

	// Six contacts on WhatsApp in a persona: the simulator adopts a group's
	// members as phones, with real-looking numbers.
	ctxBg := context.Background()
	sim := s.App.Simulator
	own := apptest.Path(apptest.Post(t, op, `query($id: ID!) { account(id: $id) { phoneNumber } }`, client.Var("id", id)).NoErrors(t), "account", "phoneNumber").(string)
	persona, err := s.App.Contacts.CreatePersona(ctxBg, "Fair visitors", "Met at the fair")
	if err != nil {
		t.Fatal(err)
	}
	var phones []types.JID
	var members []wasim.Participant
	for i := 1; i <= 6; i++ {
		jid := types.NewJID(fmt.Sprintf("491512345%04d", i), types.DefaultUserServer)
		phones = append(phones, jid)
		members = append(members, wasim.Participant{Phone: jid})
	}
	if _, err := sim.AddGroup(types.NewJID(own[1:], types.DefaultUserServer), wasim.GroupSpec{Name: "Fair", Participants: members}); err != nil {
		t.Fatal(err)
	}
	for i, jid := range phones {
		c, _, err := s.App.Contacts.Upsert(ctxBg, contact.Observation{Phone: "+" + jid.User, FullName: fmt.Sprintf("Kunde %d", i+1), Source: contact.Source{Kind: contact.SourceManual}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.App.Contacts.AddToPersona(ctxBg, persona.ID, contact.Selection{IDs: []string{c.ID}}); err != nil {
			t.Fatal(err)
		}
	}

	// An unknown placeholder: the server's suggestion in a toast.
	do(t, ctx, "an unknown placeholder",
		chromedp.Click(chromedp.Search(`//nav//a[normalize-space()="Sending"]`)),
		waitText(`h1`, "Sending"),
		choose(`#send-account`, "Campaign phone (active)"),
		chromedp.Click(chromedp.CSS(`input[name="mode"][value="persona"]`)),
		choose(`#send-persona`, "Fair visitors (6)"),
		waitText(`.placeholders`, "{{first_name}}"),
		fill(`#send-text`, "Hi {{nme}}!"),
		click("Queue messages"),
		waitText(`.toast.error .message`, "unknown placeholder {{nme}}"),
		waitText(`.toast.error .suggestion`, "{{name}}"),
	)
	if n := apptest.Path(apptest.Post(t, op, `query($id: ID!) { batches(accountId: $id) { totalCount } }`, client.Var("id", id)).NoErrors(t), "batches", "totalCount"); n != float64(0) {
		t.Fatalf("after the refused text there are %v batches", n)
	}

	// The batch drains live to done.
	do(t, ctx, "compose the batch",
		dismissToasts(),
		fill(`#send-text`, "Hi "),
		chromedp.Click(chromedp.Search(`//ul//button[normalize-space()="{{name}}"]`)),
		void(chromedp.Poll[bool](`document.querySelector("#send-text").value === "Hi {{name}}"`)),
		fill(`#send-text`, "Hi {{name}}, thank you for visiting our stand!"),
		fill(`#send-jitter`, "1"),
	)
	shot(t, ctx, "sending", "main h1")
	do(t, ctx, "the batch drains",
		click("Queue messages"),
		waitText(`.toast.info`, "6 messages queued"),
		waitText(`h1`, "Batch of"),
		waitText(`[data-count="total"]`, "6"),
		waitText(`[data-count="sent"]`, "6"),
		waitText(`.batch-state`, "Done"),
		waitText(`.messages .count`, "6 messages"),
		void(chromedp.Poll[bool](`[...document.querySelectorAll("table.messages .badge")].filter((b) => b.textContent === "SENT").length === 6`, chromedp.WithPollingTimeout(30*time.Second))),
		dismissToasts(),
	)
	if v := evaluate[string](t, ctx, `(() => { const p = document.querySelector("main .progress progress"); return p.value + "/" + p.max; })()`); v != "6/6" {
		t.Errorf("the progress bar of the done batch is %s", v)
	}
	shot(t, ctx, "batch")
	batchID := strings.TrimPrefix(evaluate[string](t, ctx, `location.hash`), "#/batches/")
	for i, p := range phones {
		got := sim.SentTo(p)
		if want := fmt.Sprintf("Hi Kunde %d, thank you for visiting our stand!", i+1); len(got) != 1 || got[0].Body != want {
			t.Errorf("phone %d read %+v, want %q", i+1, got, want)
		}
	}

	// A double click sends one message; a number not on WhatsApp fails
	// with the reason and what to do.
	do(t, ctx, "send one message to a contact with a double click",
		chromedp.Click(chromedp.Search(`//a[starts-with(normalize-space(), "← Sending")]`)),
		waitText(`h1`, "Sending"),
		waitText(`.batches`, "6 sent"),
		chromedp.Navigate(s.URL+"/#/contacts?search=kunde"),
		chromedp.Click(chromedp.Search(`//table//a[normalize-space()="Kunde 1"]`)),
		waitText(`h1`, "Kunde 1"),
		chromedp.Click(chromedp.Search(`//a[normalize-space()="Send a message"]`)),
		waitText(`h1`, "Sending"),
		waitText(`.to-contact`, "Kunde 1, +"+phones[0].User),
		fill(`#send-text`, "Your voucher: FAIR25"),
		void(chromedp.Evaluate[bool](`(() => { const b = [...document.querySelectorAll("form.compose button[type=submit]")][0]; b.click(); b.click(); return true; })()`)),
		waitText(`.toast.info`, "is queued"),
		dismissToasts(),
		fill(`#send-to`, "+4915100000001"),
		fill(`#send-text`, "Hello?"),
		click("Send message"),
		waitText(`.toast.info`, "is queued"),
		waitText(`table.messages`, "RECIPIENT_NOT_ON_WHATSAPP"),
		chromedp.WaitVisible(chromedp.CSS(`table.messages .msg-error .suggestion`)),
		waitText(`table.messages`, "Sent "),
		dismissToasts(),
	)
	vouchers := 0
	for _, m := range sim.SentTo(phones[0]) {
		if m.Body == "Your voucher: FAIR25" {
			vouchers++
		}
	}
	if vouchers != 1 {
		t.Errorf("a double click sent the message %d times", vouchers)
	}

	// A batch to the contacts filter that starts later, canceled through
	// the dialog.
	later := time.Now().Add(2 * time.Hour).Format("2006-01-02T15:04")
	do(t, ctx, "queue a batch for later",
		chromedp.Navigate(s.URL+"/#/contacts?search=kunde"),
		waitText(`.count`, "6 contacts match the filter"),
		chromedp.Click(chromedp.Search(`//a[normalize-space()="Send to these contacts"]`)),
		waitText(`h1`, "Sending"),
		waitText(`.filter-summary`, "6 contacts match the filter"),
		void(chromedp.Poll[bool](`document.querySelector('input[name="mode"][value="filter"]').checked`)),
		fill(`#send-text`, "See you next year, {{first_name|friend}}!"),
		fill(`#send-start`, later),
		click("Queue messages"),
		waitText(`h1`, "Batch of"),
		waitText(`[data-count="pending"]`, "6"),
		waitText(`.batch-state`, "Scheduled"),
		dismissToasts(),
		click("Cancel batch…"),
		button("Cancel the batch"),
	)
	shot(t, ctx, "batch-cancel")
	do(t, ctx, "cancel the batch",
		click("Cancel the batch"),
		waitText(`[data-count="canceled"]`, "6"),
		waitText(`.batch-state`, "Canceled"),
		waitText(`.toast.info`, "6 messages will not be sent"),
		chromedp.WaitNotPresent(buttonPath("Cancel batch…")),
		dismissToasts(),
	)

	// Pauses on the gauges: one set through the API shows live; Resume and
	// Pause from the page.
	paused := func() bool {
		d := apptest.Post(t, op, `query($id: ID!) { rateLimitStatus(accountId: $id) { paused } }`, client.Var("id", id)).NoErrors(t)
		return apptest.Path(d, "rateLimitStatus", "paused") == true
	}
	do(t, ctx, "the gauges",
		chromedp.Navigate(s.URL+"/#/accounts/"+id),
		waitText(`h1`, "Campaign phone"),
		waitText(`.ratelimits .gauge`, "/ 1000"),
		chromedp.WaitVisible(buttonPath("Pause sending")),
	)
	apptest.Post(t, op, `mutation($id: ID!) { pauseSending(input: {accountId: $id, note: "Paused from the API"}) { pause { reason } } }`, client.Var("id", id)).NoErrors(t)
	do(t, ctx, "a pause from elsewhere shows live",
		waitTextWithin(5*time.Second, `.pause`, "Paused from the API"),
		waitText(`.pause`, "MANUAL"),
		waitText(`.pause`, "until someone resumes it"),
		chromedp.WaitNotPresent(buttonPath("Pause sending")),
		click("Resume sending"),
		waitText(`.toast.info`, "Sending resumed"),
		chromedp.WaitNotPresent(chromedp.CSS(`.pause`)),
	)
	if paused() {
		t.Fatal("after Resume sending the account is still paused")
	}
	do(t, ctx, "pause from the page",
		dismissToasts(),
		fill(`#pause-note`, "Campaign under review"),
		click("Pause sending"),
		waitText(`.pause`, "Sending is paused"),
		waitText(`.pause`, "Campaign under review"),
		dismissToasts(),
	)
	if !paused() {
		t.Fatal("after Pause sending the account is not paused")
	}
	shot(t, ctx, "pause", ".ratelimits")
	do(t, ctx, "resume from the page",
		click("Resume sending"),
		chromedp.WaitNotPresent(chromedp.CSS(`.pause`)),
		button("Pause sending"),
	)
	if paused() {
		t.Fatal("after Resume sending the account is still paused")
	}

	// Sends and refusals on the health screen.
	do(t, ctx, "the health screen counts the messages",
		chromedp.Click(chromedp.Search(`//nav//a[normalize-space()="Health"]`)),
		waitText(`.messages-by-status [data-status="SENT"]`, "7"),
		waitText(`.messages-by-status [data-status="FAILED"]`, "1"),
		waitText(`.messages-by-status [data-status="CANCELED"]`, "6"),
	)

	// The compose form fits a phone.
	do(t, ctx, "compose at 375 px",
		chromedp.EmulateViewport(375, 740, chromedp.EmulateMobile),
		chromedp.Navigate(s.URL+"/#/sending?account="+id),
		chromedp.Click(chromedp.CSS(`input[name="mode"][value="persona"]`)),
		waitText(`.placeholders`, "{{attr.KEY}}"),
	)
	if w := evaluate[int](t, ctx, `document.documentElement.scrollWidth - window.innerWidth`); w > 0 {
		t.Errorf("the compose form at 375 px is %d px wider than the screen", w)
	}
	do(t, ctx, "back to a laptop", chromedp.EmulateViewport(laptopW, laptopH))

	// A VIEWER sees the batches, messages and pauses but nothing to change
	// them with; at a phone's width nothing sticks out.
	do(t, ctx, "sign out", click("Sign out"), chromedp.WaitVisible(chromedp.CSS(`#token`)))
	signIn(t, ctx, s.URL, s.Token(t, auth.Viewer))
	apptest.Post(t, op, `mutation($id: ID!) { pauseSending(input: {accountId: $id}) { pause { reason } } }`, client.Var("id", id)).NoErrors(t)
	for _, screen := range []struct{ hash, sel, want string }{
		{"#/sending?account=" + id, ".batches", "6 sent"},
		{"#/batches/" + batchID, `[data-count="sent"]`, "6"},
		{"#/accounts/" + id, ".pause", "Sending is paused"},
	} {
		do(t, ctx, "a VIEWER on "+screen.hash,
			chromedp.Navigate(s.URL+"/"+screen.hash),
			waitText(screen.sel, screen.want),
		)
		if w := writeControls(t, ctx); len(w) > 0 {
			t.Errorf("a VIEWER sees write controls on %s: %q", screen.hash, w)
		}
		for _, width := range []int{375, laptopW} {
			do(t, ctx, fmt.Sprintf("%s at %d px", screen.hash, width),
				chromedp.EmulateViewport(int64(width), 740, chromedp.EmulateMobile),
				waitText(screen.sel, screen.want),
			)
			if w := evaluate[int](t, ctx, `document.documentElement.scrollWidth - window.innerWidth`); w > 0 {
				t.Errorf("%s at %d px is %d px wider than the screen", screen.hash, width, w)
			}
		}
	}
}

// The gauges stay live across a dropped connection: a pause set while the
// console was cut off shows once it is back, without a reload.
func TestConsoleGaugesLiveAfterDrop(t *testing.T) {
	ctx := laptop(t, 2*time.Minute)
	s := start(t)
	op := s.Client(apptest.Bearer(s.Token(t, auth.Operator)))
	id := apptest.Path(apptest.Post(t, op, `mutation { createAccount(input: {name: "Campaign phone"}) { account { id } } }`).NoErrors(t), "createAccount", "account", "id").(string)
	proxy := apptest.NewProxy(t, strings.TrimPrefix(s.URL, "http://"))
	url := "http://" + proxy.Addr()
	signIn(t, ctx, url, s.Token(t, auth.Viewer))
	do(t, ctx, "the gauges",
		chromedp.Navigate(url+"/#/accounts/"+id),
		waitText(`.ratelimits .gauge`, "0 / 6"),
	)
	if evaluate[bool](t, ctx, `document.querySelector(".pause") !== null`) {
		t.Fatal("a pause shows before any was set")
	}
	proxy.Cut()
	do(t, ctx, "the connection drops", waitText(`#connection`, "reconnecting"))
	apptest.Post(t, op, `mutation($id: ID!) { pauseSending(input: {accountId: $id, note: "Set while you were away"}) { pause { reason } } }`, client.Var("id", id)).NoErrors(t)
	proxy.Restore(t)
	do(t, ctx, "the pause shows after the reconnection",
		waitText(`#connection`, "connected"),
		waitText(`.pause`, "Set while you were away"),
	)
	apptest.Post(t, op, `mutation($id: ID!) { resumeSending(input: {accountId: $id}) { status { paused } } }`, client.Var("id", id)).NoErrors(t)
	do(t, ctx, "and goes live", chromedp.WaitNotPresent(chromedp.CSS(`.pause`)))
}
