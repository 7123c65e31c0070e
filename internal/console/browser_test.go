package console_test

// The console in a real browser (headless Chromium through chromedp)
// against a --simulate server: a person signs in, creates an account, links
// it by QR and sees it become ACTIVE live, resets it through the dialog and
// reads an error's suggestion in a toast, then links it by pairing code.
// Every wait is on what the person sees.

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/99designs/gqlgen/client"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"wagraph/internal/apptest"
	"wagraph/internal/auth"
	"wagraph/internal/testenv"
)

// do runs the steps in order; a failure names the step (counted from 1).
func do(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	for i, step := range steps {
		stepCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := chromedp.Do(stepCtx, step)
		cancel()
		if err != nil {
			page, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify([...document.querySelectorAll("dialog")].map(d => d.open)) + " focus: " + document.activeElement.outerHTML.slice(0, 120) + "\n" + document.body.innerText`))
			t.Fatalf("%s, step %d: %v; the page shows:\n%s", what, i+1, err, page)
		}
	}
}

func jsString(s string) string { b, _ := json.Marshal(s); return string(b) }

// buttonPath is the XPath of the button whose text is label.
func buttonPath(label string) chromedp.Search {
	return chromedp.Search(`//button[normalize-space()="` + label + `"]`)
}

// button waits for the button labelled label to be visible.
func button(label string) chromedp.Action[chromedp.Void] {
	return chromedp.WaitVisible(buttonPath(label))
}

// click clicks the visible button labelled label.
func click(label string) chromedp.Action[chromedp.Void] {
	return chromedp.Click(buttonPath(label), chromedp.NodeVisible)
}

// void drops an action's value, for chromedp.Do.
func void[T any](a chromedp.Action[T]) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := a(ctx, t)
		return chromedp.Void{}, err
	}
}

// waitText waits until the first element matching the CSS selector sel
// shows text containing want.
func waitText(sel, want string) chromedp.Action[chromedp.Void] {
	return void(chromedp.Poll[bool](`(() => { const el = document.querySelector(`+jsString(sel)+`);
		return !!el && el.offsetParent !== null && el.textContent.includes(`+jsString(want)+`); })()`, chromedp.WithPollingTimeout(30*time.Second)))
}

// laptop starts the browser with the laptop viewport of the screenshots.
func laptop(t *testing.T, timeout time.Duration) context.Context {
	ctx := testenv.Browser(t, timeout, chromedp.WindowSize(laptopW, laptopH+200))
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(laptopW, laptopH)); err != nil {
		t.Fatal(err)
	}
	return ctx
}

// dismissToasts closes the messages shown, so that they cover nothing.
func dismissToasts() chromedp.Action[chromedp.Void] {
	return void(chromedp.Evaluate[int](`(() => { const bs = [...document.querySelectorAll(".toast button")]; bs.forEach((b) => b.click()); return bs.length; })()`))
}

// signIn opens the console and signs in with token.
func signIn(t *testing.T, ctx context.Context, url, token string) {
	t.Helper()
	do(t, ctx, "sign in",
		chromedp.Navigate(url+"/"),
		chromedp.WaitVisible(chromedp.CSS(`label[for="token"]`)),
		chromedp.SendKeys(chromedp.CSS(`#token`), token),
		click("Sign in"),
		waitText(`#connection`, "connected"),
	)
}

// evaluate returns the value of the JavaScript expression js in the page.
func evaluate[T any](t *testing.T, ctx context.Context, js string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	if err != nil {
		t.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}

func start(t *testing.T) *apptest.Server {
	return apptest.Start(t, apptest.Env{"SIMULATE": "true", "SIMULATE_SCAN_DELAY": "2s", "LOG_LEVEL": "warn"})
}

func TestConsoleLinksAndResetsAnAccount(t *testing.T) {
	ctx := laptop(t, 3*time.Minute)
	s := start(t)
	token := s.Token(t, auth.Admin)
	do(t, ctx, "the sign-in page",
		chromedp.Navigate(s.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS(`label[for="token"]`)),
	)
	shot(t, ctx, "signin")
	signIn(t, ctx, s.URL, token)

	// The token is in this tab's sessionStorage only, never in the URL.
	inSession := evaluate[bool](t, ctx, `Object.values(sessionStorage).includes(`+jsString(token)+`)`)
	inLocal := evaluate[bool](t, ctx, `Object.keys(localStorage).some(k => (k + localStorage.getItem(k)).includes(`+jsString(token)+`))`)
	href := evaluate[string](t, ctx, `location.href`)
	if !inSession || inLocal || strings.Contains(href, token) {
		t.Errorf("token in sessionStorage %v, in localStorage %v, URL %s", inSession, inLocal, href)
	}

	// Create an account and open it.
	do(t, ctx, "create an account",
		chromedp.SendKeys(chromedp.CSS(`#new-account`), "Marketing phone"),
		click("Create account"),
		waitText(`ul.accounts`, "Marketing phone"),
		waitText(`ul.accounts .badge`, "PENDING"),
	)
	shot(t, ctx, "accounts")
	do(t, ctx, "open the account",
		chromedp.Click(chromedp.Search(`//ul[@class="accounts"]//a[normalize-space()="Marketing phone"]`)),
		waitText(`h1`, "Marketing phone"),
	)

	// Link it by QR: the code and its countdown show, and the simulated
	// phone scans it; the page turns ACTIVE by itself.
	do(t, ctx, "start a QR activation",
		click("Link with a QR code"),
		chromedp.WaitVisible(chromedp.CSS(`.qr img`)),
		waitText(`.qr`, "A new code in"),
		dismissToasts(),
	)
	shot(t, ctx, "account-qr", "main h1")
	src := evaluate[string](t, ctx, `document.querySelector(".qr img").src`)
	if !strings.HasPrefix(src, "data:image/png;base64,") {
		t.Errorf("the QR image is %.40q, want a PNG data URL", src)
	}
	do(t, ctx, "the account never showed ACTIVE",
		waitText(`h1 .badge`, "ACTIVE"),
		waitText(`table tbody`, "→ ACTIVE"),
		chromedp.WaitNotPresent(chromedp.CSS(`.qr img`)),
	)

	// Reset it through the confirmation dialog: Cancel first keeps it ACTIVE.
	do(t, ctx, "reset through the dialog",
		click("Reset…"),
		button("Reset account"),
		click("Cancel"),
		chromedp.WaitNotPresent(chromedp.CSS(`dialog`)),
		waitText(`h1 .badge`, "ACTIVE"),
		// Escape closes the dialog too, and gives the focus back.
		click("Reset…"),
		button("Reset account"),
		chromedp.KeyEvent(kb.Escape),
		chromedp.WaitNotPresent(chromedp.CSS(`dialog`)),
		void(chromedp.Poll[bool](`document.activeElement && document.activeElement.textContent === "Reset…"`)),
		// This time by keyboard: Enter on the focused button, then confirm.
		chromedp.SendKeys(buttonPath("Reset…"), kb.Enter),
		button("Reset account"),
	)
	shot(t, ctx, "reset-dialog")
	do(t, ctx, "confirm the reset",
		click("Reset account"),
		waitText(`h1 .badge`, "PENDING"),
		waitText(`.toast.info`, "was reset"),
	)

	// An error shows as a toast with its suggestion.
	do(t, ctx, "no error toast with a suggestion",
		chromedp.SendKeys(chromedp.CSS(`#pairing-phone`), "12"),
		click("Get a pairing code"),
		chromedp.WaitVisible(chromedp.CSS(`.toast.error .suggestion`)),
	)
	shot(t, ctx, "error-toast")
	if evaluate[bool](t, ctx, `document.querySelector(".qr") !== null`) {
		t.Error("after a refused pairing code the page shows an empty “Link the phone” panel")
	}

	// A reload keeps the tab signed in; the pairing-code flow links the
	// account again.
	do(t, ctx, "link by pairing code after a reload",
		chromedp.Reload(),
		waitText(`#connection`, "connected"),
		waitText(`h1 .badge`, "PENDING"),
		chromedp.SendKeys(chromedp.CSS(`#pairing-phone`), "+49 151 23456789"),
		click("Get a pairing code"),
		chromedp.WaitVisible(chromedp.CSS(`.pairing`)),
		waitText(`.qr`, "Link with phone number instead"),
		waitText(`h1 .badge`, "ACTIVE"),
		waitText(`dl.facts`, "+4915123456789"),
	)

	// The health screen shows an ADMIN the background jobs too.
	do(t, ctx, "the health screen",
		chromedp.Click(chromedp.Search(`//nav//a[normalize-space()="Health"]`)),
		waitText(`.health-status`, "UP"),
		waitText(`main table`, "database"),
		waitText(`#jobs-title`, "Background jobs"),
		waitText(`ul.jobs`, "completed"),
		chromedp.WaitVisible(chromedp.Search(`//main//h3[normalize-space()="Latest failures"]`)),
	)
	shot(t, ctx, "health")
	do(t, ctx, "back to the account", chromedp.NavigateBack(), waitText(`h1`, "Marketing phone"))

	// Back on the list the account is ACTIVE; signing out forgets the token.
	do(t, ctx, "sign out",
		chromedp.Click(chromedp.Search(`//a[normalize-space()="← Accounts"]`)),
		waitText(`ul.accounts .badge`, "ACTIVE"),
		click("Sign out"),
		chromedp.WaitVisible(chromedp.CSS(`#token`)),
	)
	if evaluate[bool](t, ctx, `Object.values(sessionStorage).includes(`+jsString(token)+`)`) {
		t.Error("the token stayed in sessionStorage after signing out")
	}
}

// A VIEWER signs in after a wrong token was refused with a toast, sees the
// accounts and the health screen but no write buttons; when the connection
// drops the header says so, and once it is back the list is live again.
func TestConsoleViewerAndConnectionDrop(t *testing.T) {
	ctx := laptop(t, 3*time.Minute)
	s := start(t)
	viewer := s.Token(t, auth.Viewer)
	op := s.Client(apptest.Bearer(s.Token(t, auth.Operator)))
	apptest.Post(t, op, `mutation { createAccount(input: {name: "Shop front"}) { account { id } } }`).NoErrors(t)
	proxy := apptest.NewProxy(t, strings.TrimPrefix(s.URL, "http://"))
	url := "http://" + proxy.Addr()

	do(t, ctx, "a wrong token",
		chromedp.Navigate(url+"/"),
		chromedp.SendKeys(chromedp.CSS(`#token`), "not-a-token"),
		click("Sign in"),
		chromedp.WaitVisible(chromedp.CSS(`.toast.error .suggestion`)),
		chromedp.WaitVisible(chromedp.CSS(`#token`)),
	)
	do(t, ctx, "sign in as VIEWER",
		chromedp.Reload(),
		chromedp.SendKeys(chromedp.CSS(`#token`), viewer),
		click("Sign in"),
		waitText(`#connection`, "connected"),
		waitText(`ul.accounts`, "Shop front"),
	)
	if n := evaluate[int](t, ctx, `document.querySelectorAll("main button, #new-account").length`); n != 0 {
		t.Errorf("a VIEWER sees %d write controls on the accounts screen", n)
	}
	do(t, ctx, "open the account",
		chromedp.Click(chromedp.Search(`//a[normalize-space()="Shop front"]`)),
		waitText(`h1`, "Shop front"),
		waitText(`table tbody`, "PENDING"),
	)
	if n := evaluate[int](t, ctx, `document.querySelectorAll("main button").length`); n != 0 {
		t.Errorf("a VIEWER sees %d buttons on the account page", n)
	}
	do(t, ctx, "the health screen",
		chromedp.Click(chromedp.Search(`//nav//a[normalize-space()="Health"]`)),
		waitText(`.health-status`, "UP"),
		waitText(`main table`, "database"),
		waitText(`main`, "Opted out"),
	)
	if evaluate[bool](t, ctx, `document.body.innerText.includes("Background jobs")`) {
		t.Error("a VIEWER is shown the background jobs (ADMIN only)")
	}
	do(t, ctx, "back to the accounts",
		chromedp.Click(chromedp.Search(`//nav//a[normalize-space()="Accounts"]`)),
		waitText(`ul.accounts`, "Shop front"),
	)

	// The contacts screens show no write controls either.
	apptest.Post(t, op, `mutation { createPersona(input: {name: "Newsletter"}) { persona { id } } }`).NoErrors(t)
	apptest.Post(t, op, `mutation { importContactsCsvText(input: {csv: "phone,full_name\n+4915123456789,Anna Schmidt\n"}) { report { created } } }`).NoErrors(t)
	shopID := accountIDs(t, op)[0]
	for _, screen := range []struct{ hash, sel, want string }{
		{"#/contacts", ".count", "1 contact matches."},
		{"#/personas", "table.personas", "Newsletter"},
		{"#/accounts/" + shopID, ".ratelimits", "Per minute"},
		{"#/import", "main", "needs the OPERATOR role"},
	} {
		do(t, ctx, "a VIEWER on "+screen.hash,
			chromedp.Navigate(url+"/"+screen.hash),
			waitText(screen.sel, screen.want),
		)
		if w := writeControls(t, ctx); len(w) > 0 {
			t.Errorf("a VIEWER sees write controls on %s: %q", screen.hash, w)
		}
	}
	do(t, ctx, "a VIEWER on a contact",
		chromedp.Navigate(url+"/#/contacts"),
		chromedp.Click(chromedp.Search(`//table//a[normalize-space()="Anna Schmidt"]`)),
		waitText(`h1`, "Anna Schmidt"),
		waitText(`dl.facts`, "+4915123456789"),
	)
	if w := writeControls(t, ctx); len(w) > 0 {
		t.Errorf("a VIEWER sees write controls on a contact: %q", w)
	}
	if n := evaluate[int](t, ctx, `[...document.querySelectorAll("header nav a")].filter((a) => a.textContent === "Import").length`); n != 0 {
		t.Error("a VIEWER is offered the import")
	}

	// At a phone's width nothing sticks out sideways.
	for _, page := range []string{"#/accounts", "#/health", "#/contacts", "#/personas"} {
		do(t, ctx, "a phone-sized "+page,
			chromedp.EmulateViewport(375, 740, chromedp.EmulateMobile),
			chromedp.Navigate(url+"/"+page),
			waitText(`#connection`, "connected"),
			chromedp.WaitVisible(chromedp.CSS(`main h1`)),
		)
		if w := evaluate[int](t, ctx, `document.documentElement.scrollWidth - window.innerWidth`); w > 0 {
			t.Errorf("%s at 375 px is %d px wider than the screen", page, w)
		}
	}
	do(t, ctx, "back to a laptop's width",
		chromedp.EmulateViewport(laptopW, laptopH),
		chromedp.Navigate(url+"/#/accounts"),
		waitText(`ul.accounts`, "Shop front"),
	)

	proxy.Cut()
	do(t, ctx, "the connection drops", waitText(`#connection`, "reconnecting"))
	// Deleted while the console was cut off: gone once it is back.
	var shop string
	for _, id := range accountIDs(t, op) {
		shop = id
	}
	apptest.Post(t, s.Client(apptest.Bearer(s.Token(t, auth.Admin))), `mutation { deleteAccount(input: {accountId: "`+shop+`"}) { deletedAccountId } }`).NoErrors(t)
	proxy.Restore(t)
	do(t, ctx, "the connection is back", waitText(`#connection`, "connected"))
	apptest.Post(t, op, `mutation { createAccount(input: {name: "Back office"}) { account { id } } }`).NoErrors(t)
	do(t, ctx, "the list is live again", waitText(`ul.accounts`, "Back office"))
	do(t, ctx, "the account deleted meanwhile is gone",
		void(chromedp.Poll[bool](`document.querySelectorAll("ul.accounts > li").length === 1`)),
		waitText(`ul.accounts`, "Back office"),
	)
}

// accountIDs lists the ids of all accounts.
func accountIDs(t *testing.T, c *client.Client) []string {
	t.Helper()
	data := apptest.Post(t, c, `{ accounts(first: 100) { edges { node { id } } } }`).NoErrors(t)
	var ids []string
	for _, e := range apptest.Path(data, "accounts", "edges").([]any) {
		ids = append(ids, apptest.Path(e, "node", "id").(string))
	}
	return ids
}
