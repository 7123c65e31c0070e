package console_test

// The groups screens in a real browser against a --simulate server: the
// demo phone's groups are read from WhatsApp, searched and opened, a
// group's members exported as CSV, and every group scraped into a persona
// with the progress live.

import (
	"context"
	"encoding/csv"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/99designs/gqlgen/client"
	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
	"github.com/riverqueue/river"

	"wagraph/internal/apptest"
	"wagraph/internal/auth"
)

func TestConsoleGroupsAndScraping(t *testing.T) {
	ctx := laptop(t, 4*time.Minute)
	// A short pause between two group calls, so the scrape takes a few
	// seconds and its progress shows step by step.
	s := apptest.Start(t, apptest.Env{"SIMULATE": "true", "SIMULATE_SCAN_DELAY": "300ms", "LOG_LEVEL": "warn", "SCRAPE_GROUP_INTERVAL": "400ms"})
	opToken := s.Token(t, auth.Operator)
	op := s.Client(apptest.Bearer(opToken))
	id := apptest.Path(apptest.Post(t, op, `mutation { createAccount(input: {name: "Demo phone"}) { account { id } } }`).NoErrors(t), "createAccount", "account", "id").(string)
	apptest.Post(t, op, `mutation($id: ID!) { startActivation(input: {accountId: $id, method: QR}) { account { status } } }`, client.Var("id", id)).NoErrors(t)
	apptest.Post(t, op, `mutation { createPersona(input: {name: "Community"}) { persona { id } } }`).NoErrors(t)
	signIn(t, ctx, s.URL, opToken)
	do(t, ctx, "the account links",
		chromedp.Navigate(s.URL+"/#/accounts/"+id),
		waitText(`h1 .badge`, "ACTIVE"),
	)

	do(t, ctx, "read the groups from WhatsApp",
		chromedp.Click(chromedp.Search(`//nav//a[normalize-space()="Groups"]`)),
		waitText(`h1`, "Groups"),
		waitText(`main`, "No groups read yet"),
		click("Refresh groups from WhatsApp"),
		waitText(`.toast.info`, "in 3 groups"),
		waitText(`.count`, "3 groups."),
		waitText(`table.groups`, "Berlin runners"),
		waitText(`table.groups`, "Porto market"),
		waitText(`table.groups`, "Neighbourhood community"),
		dismissToasts(),
	)
	shot(t, ctx, "groups")
	do(t, ctx, "search the groups",
		fill(`#g-search`, "market"),
		click("Apply filters"),
		waitText(`.count`, "1 group match."),
		void(chromedp.Poll[bool](`document.querySelectorAll("table.groups tbody tr").length === 1`)),
		chromedp.Click(chromedp.Search(`//table//a[normalize-space()="Porto market"]`)),
		waitText(`h1`, "Porto market"),
		waitText(`.count`, "7 members."),
		waitText(`dl.facts`, "by LID"),
		waitText(`table.participants`, "hidden"),
	)
	shot(t, ctx, "group")

	// The members as CSV: the file the browser downloads, fetched with the
	// token in a header.
	dir := t.TempDir()
	progress := chromedp.Events(ctx, browser.DownloadProgress)
	do(t, ctx, "export the members",
		chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			_, err := chromedp.Call(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
				Behavior: browser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: dir, EventsEnabled: ptr(true),
			})
			return err
		}),
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
	if records, err := csv.NewReader(strings.NewReader(string(raw))).ReadAll(); err != nil || len(records) != 8 {
		t.Errorf("the download is %d records (%v), want a header and 7 members:\n%.300s", len(records), err, raw)
	}
	if urls := evaluate[[]string](t, ctx, `performance.getEntriesByType("resource").map((e) => e.name).filter((u) => u.includes("export"))`); len(urls) != 1 || strings.Contains(urls[0], opToken) {
		t.Errorf("the export was fetched from %q", urls)
	}

	// Scrape every group into the persona and watch it go.
	do(t, ctx, "scrape every group",
		chromedp.Click(chromedp.Search(`//a[normalize-space()="← Groups"]`)),
		waitText(`.count`, "3 groups."),
		chromedp.Click(chromedp.Search(`//label[normalize-space()="Community"]/input`)),
		// Note every progress the page shows on the way.
		void(chromedp.Evaluate[bool](`(() => { window.seenProgress = new Set();
			new MutationObserver(() => { const el = document.querySelector("table.scrapes .scrape-groups"); if (el) window.seenProgress.add(el.textContent); })
				.observe(document.body, {subtree: true, childList: true, characterData: true}); return true; })()`)),
		click("Scrape all groups"),
		waitText(`.toast.info`, "Scraping every group"),
		waitText(`table.scrapes .scrape-groups`, "of 3 groups"),
	)
	do(t, ctx, "the scrape finishes live",
		waitText(`table.scrapes .badge`, "DONE"),
		waitText(`table.scrapes .scrape-groups`, "3 of 3 groups"),
		waitText(`table.scrapes [data-count="created"]`, "161"),
		waitText(`table.scrapes`, "1 without a number"),
		dismissToasts(),
	)
	shot(t, ctx, "scrape", "#scrapes-title")
	// Between the start and the end the page showed groups being done,
	// from scrapeProgress (the list itself is read only at both ends).
	seen := evaluate[[]string](t, ctx, `[...window.seenProgress]`)
	if !slices.ContainsFunc(seen, func(s string) bool { return strings.HasPrefix(s, "1 of 3") || strings.HasPrefix(s, "2 of 3") }) {
		t.Errorf("the page showed the progress %q, with no step between the start and the end", seen)
	}
	if n := apptest.Path(apptest.Post(t, op, `{ personas { edges { node { name contactCount } } } }`).NoErrors(t), "personas", "edges"); apptest.Path(n.([]any)[0], "node", "contactCount") != float64(161) {
		t.Errorf("the persona holds %v", n)
	}

	// A scrape canceled through the dialog: the job queue is paused, so that
	// it waits for a worker until it is canceled.
	if err := s.App.Jobs.Client().QueuePause(context.Background(), river.QueueDefault, nil); err != nil {
		t.Fatal(err)
	}
	do(t, ctx, "cancel a scrape",
		click("Scrape all groups"),
		waitText(`table.scrapes .badge`, "QUEUED"),
		click("Cancel scrape"),
		click("Cancel"),
		chromedp.WaitNotPresent(chromedp.CSS(`dialog`)),
		click("Cancel scrape"),
		click("Cancel the scrape"),
		waitText(`.toast.info`, "Scrape canceled"),
		waitText(`table.scrapes .badge`, "CANCELED"),
		chromedp.WaitNotPresent(buttonPath("Cancel scrape")),
		dismissToasts(),
	)
	if err := s.App.Jobs.Client().QueueResume(context.Background(), river.QueueDefault, nil); err != nil {
		t.Fatal(err)
	}
	jobs := apptest.Post(t, op, `query($id: ID!) { scrapeJobs(accountId: $id, first: 1) { edges { node { state } } } }`, client.Var("id", id)).NoErrors(t)
	if st := apptest.Path(apptest.Path(jobs, "scrapeJobs", "edges").([]any)[0], "node", "state"); st != "CANCELED" {
		t.Errorf("the canceled scrape is %v", st)
	}

	// A VIEWER sees the groups and scrapes but cannot refresh or scrape.
	do(t, ctx, "sign out", click("Sign out"), chromedp.WaitVisible(chromedp.CSS(`#token`)))
	signIn(t, ctx, s.URL, s.Token(t, auth.Viewer))
	do(t, ctx, "a VIEWER on the groups",
		chromedp.Navigate(s.URL+"/#/groups?account="+id),
		waitText(`.count`, "3 groups."),
		waitText(`table.scrapes tbody tr:last-child .badge`, "DONE"),
	)
	if w := writeControls(t, ctx); len(w) > 0 {
		t.Errorf("a VIEWER sees write controls on the groups: %q", w)
	}
	do(t, ctx, "the groups at 375 px",
		chromedp.EmulateViewport(375, 740, chromedp.EmulateMobile),
		waitText(`.count`, "3 groups."),
	)
	if w := evaluate[int](t, ctx, `document.documentElement.scrollWidth - window.innerWidth`); w > 0 {
		t.Errorf("the groups at 375 px are %d px wider than the screen", w)
	}
}
