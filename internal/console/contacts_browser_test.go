package console_test

// The contacts, personas, import, export and rate-limit screens in a real
// browser against a --simulate server, as the marketing team uses them.

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/99designs/gqlgen/client"
	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	"wagraph/internal/apptest"
	"wagraph/internal/auth"
)

// fill sets the value of the input matching the CSS selector sel as typing
// would (an input event), replacing what was there.
func fill(sel, value string) chromedp.Action[chromedp.Void] {
	return void(chromedp.Poll[bool](`(() => { const el = document.querySelector(`+jsString(sel)+`);
		if (!el) return false;
		el.focus(); el.value = `+jsString(value)+`; el.dispatchEvent(new Event("input", {bubbles: true})); return true; })()`,
		chromedp.WithPollingTimeout(30*time.Second)))
}

// choose picks the option labelled label in the select matching sel.
func choose(sel, label string) chromedp.Action[chromedp.Void] {
	return void(chromedp.Poll[bool](`(() => { const el = document.querySelector(`+jsString(sel)+`);
		const o = el && [...el.options].find((o) => o.text === `+jsString(label)+`);
		if (!o) return false;
		el.value = o.value; el.dispatchEvent(new Event("change", {bubbles: true})); return true; })()`,
		chromedp.WithPollingTimeout(30*time.Second)))
}

// readOnlyButtons are the buttons that change nothing.
var readOnlyButtons = []string{"Export CSV", "Previous page", "Next page", "Show more", "Refresh", "Apply filters"}

// writeControls lists the controls on the screen that could change
// something (buttons, fields, checkboxes), except the filters and the
// read-only buttons.
func writeControls(t *testing.T, ctx context.Context) []string {
	t.Helper()
	ro, _ := json.Marshal(readOnlyButtons)
	return evaluate[[]string](t, ctx, `[...document.querySelectorAll("main button, main input, main select, main textarea, main a.button")]
		.filter((el) => !el.closest("form.filters") && !`+string(ro)+`.includes(el.textContent.trim()))
		.map((el) => el.outerHTML.slice(0, 100))`)
}

// customersCSV is a file of 25 customers in Berlin and 5 in Hamburg, with
// one duplicate row (line 32) and two invalid ones (lines 33 and 34).
func customersCSV(t *testing.T) string {
	var b strings.Builder
	b.WriteString("phone,full_name,city\n")
	for i := 0; i < 25; i++ {
		fmt.Fprintf(&b, "+49151234560%02d,Berlin Kunde %02d,Berlin\n", i, i+1)
	}
	for i := 0; i < 5; i++ {
		fmt.Fprintf(&b, "+49151234561%02d,Hamburg Kunde %02d,Hamburg\n", i, i+1)
	}
	b.WriteString("+4915123456000,Berlin Kunde 01,Berlin\n")
	b.WriteString("not a number,Nobody,Nowhere\n")
	b.WriteString(",Nameless,\n")
	path := filepath.Join(t.TempDir(), "customers.csv")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// Import a CSV file (a dry run first), filter the contacts, create a persona
// and add every contact matching a filter to it, export the persona as CSV,
// opt a contact out and delete it; then the same screen at a phone's width.
func TestConsoleContactsImportPersonasExport(t *testing.T) {
	ctx := laptop(t, 4*time.Minute)
	s := start(t)
	token := s.Token(t, auth.Admin)
	admin := s.Client(apptest.Bearer(token))
	signIn(t, ctx, s.URL, token)

	// A dry run reports and changes nothing; the import then does it.
	file := customersCSV(t)
	do(t, ctx, "a dry run",
		chromedp.Click(chromedp.Search(`//nav//a[normalize-space()="Import"]`)),
		waitText(`h1`, "Import contacts"),
		chromedp.SetUploadFiles(chromedp.CSS(`#csv-file`), []string{file}),
		click("Check the file"),
		waitText(`.report h2`, "Dry run"),
		waitText(`.report [data-count="created"]`, "30"),
		waitText(`.report [data-count="duplicates"]`, "1"),
		waitText(`.report [data-count="invalid"]`, "2"),
	)
	if n := apptest.Path(apptest.Post(t, admin, `{ contacts { totalCount } }`).NoErrors(t), "contacts", "totalCount"); n != float64(0) {
		t.Fatalf("after the dry run there are %v contacts", n)
	}
	do(t, ctx, "the import",
		chromedp.Click(chromedp.CSS(`#csv-dry-run`)),
		click("Import"),
		waitText(`.report h2`, "Import done"),
		waitText(`.report [data-count="created"]`, "30"),
		waitText(`.report .row-errors`, "33"),
		waitText(`.report .row-errors`, "34"),
	)
	errRows := evaluate[[]string](t, ctx, `[...document.querySelectorAll(".row-errors tbody tr")].map((tr) => tr.innerText)`)
	if len(errRows) != 3 || !strings.HasPrefix(errRows[0], "32") {
		t.Errorf("the report lists the skipped rows %q, want lines 32, 33 and 34 with reasons", errRows)
	}
	do(t, ctx, "dismiss the messages", dismissToasts())
	shot(t, ctx, "import", ".report")

	// The table with a filter, paged.
	do(t, ctx, "the contacts with a filter",
		chromedp.Click(chromedp.Search(`//nav//a[normalize-space()="Contacts"]`)),
		waitText(`.count`, "30 contacts match."),
		fill(`#f-search`, "berlin"),
		click("Apply filters"),
		waitText(`.count`, "25 contacts match the filter"),
		waitText(`.pager`, "Page 1 of 2"),
		void(chromedp.Poll[bool](`document.querySelectorAll("table.contacts tbody tr").length === 20`)),
	)
	if href := evaluate[string](t, ctx, `location.hash`); href != "#/contacts?search=berlin" {
		t.Errorf("the filter is not in the address: %s", href)
	}
	shot(t, ctx, "contacts")
	do(t, ctx, "the next page",
		click("Next page"),
		waitText(`.pager`, "Page 2 of 2"),
		void(chromedp.Poll[bool](`document.querySelectorAll("table.contacts tbody tr").length === 5`)),
		click("Previous page"),
		waitText(`.pager`, "Page 1 of 2"),
	)

	// A persona, and every contact matching the filter added to it.
	do(t, ctx, "create a persona",
		chromedp.Click(chromedp.Search(`//nav//a[normalize-space()="Personas"]`)),
		fill(`#new-persona`, "Berlin customers"),
		fill(`#new-persona-description`, "Everyone from the Berlin fair"),
		click("Create persona"),
		waitText(`table.personas`, "Berlin customers"),
		dismissToasts(),
		chromedp.Navigate(s.URL+"/#/contacts?search=berlin"),
		waitText(`.count`, "25 contacts match the filter"),
		chromedp.Click(chromedp.CSS(`th.check input`)),
		click("Select all 25 matching the filter"),
		waitText(`.selection`, "All 25 contacts matching the filter"),
		choose(`#sel-persona`, "Berlin customers"),
		dismissToasts(),
	)
	shot(t, ctx, "contacts-selection")
	do(t, ctx, "add them to the persona",
		click("Add to persona"),
		waitText(`.toast.info`, "25 contacts added to “Berlin customers”"),
		dismissToasts(),
		chromedp.Click(chromedp.Search(`//nav//a[normalize-space()="Personas"]`)),
		waitText(`table.personas`, "25"),
	)
	shot(t, ctx, "personas")
	personaID := ""
	for _, e := range apptest.Path(apptest.Post(t, admin, `{ personas { edges { node { id name contactCount } } } }`).NoErrors(t), "personas", "edges").([]any) {
		if apptest.Path(e, "node", "contactCount") != float64(25) {
			t.Errorf("the persona holds %v contacts, want 25", apptest.Path(e, "node", "contactCount"))
		}
		personaID = apptest.Path(e, "node", "id").(string)
	}

	// Export the persona's contacts: the file the browser downloads.
	dir := t.TempDir()
	progress := chromedp.Events(ctx, browser.DownloadProgress)
	do(t, ctx, "export the persona",
		chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			_, err := chromedp.Call(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
				Behavior: browser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: dir, EventsEnabled: ptr(true),
			})
			return err
		}),
		chromedp.Click(chromedp.CSS(`a[aria-label="25 contacts in Berlin customers"]`)),
		waitText(`.count`, "25 contacts match the filter"),
		click("Export CSV"),
	)
	var downloaded string
	for ev, err := range progress {
		if err != nil {
			t.Fatalf("download: %v", err)
		}
		if ev.State == browser.DownloadProgressStateCompleted {
			downloaded = filepath.Join(dir, ev.GUID)
			break
		}
		if ev.State == browser.DownloadProgressStateCanceled {
			t.Fatal("the download was canceled")
		}
	}
	raw, err := os.ReadFile(downloaded)
	if err != nil {
		t.Fatal(err)
	}
	records, err := csv.NewReader(strings.NewReader(string(raw))).ReadAll()
	if err != nil || len(records) != 26 || records[0][1] != "phone" {
		t.Fatalf("the download is %d records (%v), want a header and 25 rows:\n%.300s", len(records), err, raw)
	}
	for _, r := range records[1:] {
		if !strings.HasPrefix(r[4], "Berlin Kunde") {
			t.Errorf("the export of the persona holds %q", r)
		}
	}
	if hash := evaluate[string](t, ctx, `location.hash`); hash != "#/contacts?personaId="+personaID {
		t.Errorf("the persona's contacts are at %s", hash)
	}
	if shown := evaluate[string](t, ctx, `document.querySelector("#f-persona").selectedOptions[0].text`); shown != "Berlin customers" {
		t.Errorf("the persona filter shows %q", shown)
	}
	// The token went in a header, never in an address the browser fetched.
	if urls := evaluate[[]string](t, ctx, `performance.getEntriesByType("resource").map((e) => e.name).filter((u) => u.includes("export"))`); len(urls) != 1 || strings.Contains(urls[0], token) {
		t.Errorf("the export was fetched from %q", urls)
	}

	// One ticked contact out of the persona again.
	do(t, ctx, "remove a contact from the persona",
		chromedp.Click(chromedp.CSS(`input[aria-label="Select Berlin Kunde 02"]`)),
		waitText(`.selection`, "1 selected"),
		choose(`#sel-persona`, "Berlin customers"),
		click("Remove from persona"),
		waitText(`.toast.info`, "1 contact removed from “Berlin customers”; it holds 24 now."),
		waitText(`.count`, "24 contacts match the filter"),
		dismissToasts(),
	)

	// One contact: opt it out, then delete it through the dialog.
	do(t, ctx, "open a contact",
		chromedp.Click(chromedp.Search(`//table//a[normalize-space()="Berlin Kunde 01"]`)),
		waitText(`h1`, "Berlin Kunde 01"),
		waitText(`dl.facts`, "+4915123456000"),
		waitText(`dl.facts`, "Berlin customers"),
		waitText(`main table`, "city"),
		waitText(`main`, "import"),
		click("Opt out"),
		waitText(`.optout`, "yes, since"),
		button("Opt back in"),
		dismissToasts(),
	)
	shot(t, ctx, "contact")
	do(t, ctx, "the opted-out contacts",
		chromedp.Click(chromedp.Search(`//a[normalize-space()="← Contacts"]`)),
		waitText(`.count`, "30 contacts match."),
		choose(`#f-optout`, "Opted out"),
		click("Apply filters"),
		waitText(`.count`, "1 contact matches the filter"),
		waitText(`table.contacts tbody`, "Berlin Kunde 01"),
		chromedp.Click(chromedp.Search(`//table//a[normalize-space()="Berlin Kunde 01"]`)),
		waitText(`h1`, "Berlin Kunde 01"),
	)
	do(t, ctx, "delete the contact",
		click("Delete…"),
		button("Delete contact"),
		click("Cancel"),
		chromedp.WaitNotPresent(chromedp.CSS(`dialog`)),
		click("Delete…"),
		click("Delete contact"),
		waitText(`.toast.info`, "deleted"),
		waitText(`.count`, "29 contacts match."),
	)

	// At a phone's width the contacts screen fits.
	do(t, ctx, "the contacts at 390 px",
		chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile),
		chromedp.Navigate(s.URL+"/#/contacts?search=kunde"),
		waitText(`.count`, "29 contacts match the filter"),
		chromedp.WaitVisible(chromedp.CSS(`table.contacts`)),
	)
	if w := evaluate[int](t, ctx, `document.documentElement.scrollWidth - window.innerWidth`); w > 0 {
		t.Errorf("the contacts at 390 px are %d px wider than the screen", w)
	}
}

func ptr[T any](v T) *T { return &v }

// The send limits on an account's page: gauges, a refused change shown as a
// toast with its suggestion, the account's own limits, then the defaults.
func TestConsoleRateLimits(t *testing.T) {
	ctx := laptop(t, 3*time.Minute)
	s := start(t)
	op := s.Client(apptest.Bearer(s.Token(t, auth.Operator)))
	id := apptest.Path(apptest.Post(t, op, `mutation { createAccount(input: {name: "Campaign phone"}) { account { id } } }`).NoErrors(t), "createAccount", "account", "id").(string)
	signIn(t, ctx, s.URL, s.Token(t, auth.Operator))

	do(t, ctx, "the gauges",
		chromedp.Navigate(s.URL+"/#/accounts/"+id),
		waitText(`h1`, "Campaign phone"),
		waitText(`.ratelimits`, "Per minute"),
		waitText(`.ratelimits .gauge`, "0 / 6"),
		waitText(`.ratelimits`, "New chats per 24 hours"),
		waitText(`.ratelimits`, "default limits"),
		waitText(`.ratelimits`, "Not linked yet: the warm-up allows at most 20 sends"),
	)
	shot(t, ctx, "rate-limits", ".ratelimits")
	do(t, ctx, "a value that is not a number",
		click("Change limits"),
		fill(`#limit-max-0`, "six"),
		click("Save limits"),
		waitText(`.toast.error .message`, "is not a whole number"),
		chromedp.WaitVisible(chromedp.CSS(`.toast.error .suggestion`)),
		click("Dismiss"),
	)
	do(t, ctx, "a window the limiter refuses",
		fill(`#limit-max-0`, "5"),
		fill(`#limit-window-0`, "0"),
		click("Save limits"),
		chromedp.WaitVisible(chromedp.CSS(`.toast.error .suggestion`)),
	)
	shot(t, ctx, "rate-limits-form", ".ratelimits")
	do(t, ctx, "the account's own limits",
		dismissToasts(),
		fill(`#limit-window-0`, "60"),
		click("Save limits"),
		waitText(`.toast.info`, "own limits are saved"),
		dismissToasts(),
		waitText(`.ratelimits .gauge`, "0 / 5"),
		waitText(`.ratelimits`, "This account's own limits"),
		click("Use the defaults"),
		waitText(`.ratelimits .gauge`, "0 / 6"),
		waitText(`.ratelimits`, "default limits"),
	)
	st := apptest.Post(t, op, `query($id: ID!) { rateLimitStatus(accountId: $id) { configured { custom } } }`, client.Var("id", id)).NoErrors(t)
	if apptest.Path(st, "rateLimitStatus", "configured", "custom") != false {
		t.Errorf("after Use the defaults the limits are %v", st)
	}
}

// The accounts list pages: 50 at a time with the total, "Show more" for the
// rest.
func TestConsoleAccountsPaged(t *testing.T) {
	ctx := laptop(t, 2*time.Minute)
	s := start(t)
	op := s.Client(apptest.Bearer(s.Token(t, auth.Operator)))
	for i := 1; i <= 53; i++ {
		apptest.Post(t, op, fmt.Sprintf(`mutation { createAccount(input: {name: "Phone %02d"}) { account { id } } }`, i)).NoErrors(t)
	}
	signIn(t, ctx, s.URL, s.Token(t, auth.Viewer))
	do(t, ctx, "the first page",
		waitText(`.paging`, "Showing 50 of 53 accounts."),
		void(chromedp.Poll[bool](`document.querySelectorAll("ul.accounts > li").length === 50`)),
		click("Show more"),
		waitText(`.paging`, "Showing 53 of 53 accounts."),
		waitText(`ul.accounts > li:last-child`, "Phone 53"),
		chromedp.WaitNotPresent(buttonPath("Show more")),
	)
	// A new account shows up live and counts.
	apptest.Post(t, op, `mutation { createAccount(input: {name: "Phone 54"}) { account { id } } }`).NoErrors(t)
	do(t, ctx, "a new account", waitText(`.paging`, "Showing 54 of 54 accounts."))
}
