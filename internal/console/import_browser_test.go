package console_test

// A file over 1 MiB imported through the console: uploaded as a multipart
// request (importContactsCsv), followed live (importProgress) to the
// report, which matches what the API reports (importJob); one over the
// server's upload limit refused with its message; one canceled through
// the dialog; a VIEWER sees no import.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/99designs/gqlgen/client"
	"github.com/chromedp/chromedp"
	"github.com/riverqueue/river"

	"wagraph/internal/apptest"
	"wagraph/internal/auth"
)

// bigCSV writes a file of rows rows (numbers of the series, 0 to 99) (a bit over 1 MiB for 30,000): every
// 25th row has no valid number, and the 2nd of every 100 repeats the
// number of the row before it. It returns the path and how many rows are invalid and
// duplicates.
func bigCSV(t *testing.T, series, rows int) (path string, invalid, duplicates int) {
	t.Helper()
	var b strings.Builder
	b.WriteString("phone,full_name,city\n")
	for i := 1; i <= rows; i++ {
		switch {
		case i%25 == 0:
			fmt.Fprintf(&b, "no number %d,Kunde %05d,Frankfurt am Main\n", i, i)
			invalid++
		case i%100 == 2:
			fmt.Fprintf(&b, "+49152%02d%06d,Kunde %05d,Frankfurt am Main\n", series, i-1, i)
			duplicates++
		default:
			fmt.Fprintf(&b, "+49152%02d%06d,Kunde %05d,Frankfurt am Main\n", series, i, i)
		}
	}
	path = filepath.Join(t.TempDir(), fmt.Sprintf("messe-frankfurt-%d.csv", series))
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, invalid, duplicates
}

func TestConsoleImportsABigFile(t *testing.T) {
	ctx := laptop(t, 9*time.Minute)
	// Uploads of up to 3 MiB, so that a 4.3 MiB file is refused.
	s := apptest.Start(t, apptest.Env{"SIMULATE": "true", "LOG_LEVEL": "warn", "IMPORT_UPLOAD_MAX_BYTES": strconv.Itoa(3 << 20)})
	token := s.Token(t, auth.Operator)
	op := s.Client(apptest.Bearer(token))
	apptest.Post(t, op, `mutation { createPersona(input: {name: "Messe Frankfurt"}) { persona { id } } }`).NoErrors(t)
	file, invalid, duplicates := bigCSV(t, 0, 30000)
	second, _, _ := bigCSV(t, 1, 30000)
	if st, _ := os.Stat(file); st.Size() <= 1<<20 || st.Size() > 2<<20 {
		t.Fatalf("the file is %d bytes, want a bit over 1 MiB", st.Size())
	}
	huge := filepath.Join(t.TempDir(), "huge.csv")
	if err := os.WriteFile(huge, []byte("phone\n"+strings.Repeat("+4915123456789\n", 300000)), 0o644); err != nil {
		t.Fatal(err)
	}
	signIn(t, ctx, s.URL, token)

	do(t, ctx, "a file over the server's upload limit",
		chromedp.Click(chromedp.Search(`//nav//a[normalize-space()="Import"]`)),
		waitText(`h1`, "Import contacts"),
		chromedp.SetUploadFiles(chromedp.CSS(`#csv-file`), []string{huge}),
		click("Check the file"),
		waitText(`.toast.error .message`, "too large"),
		waitText(`.toast.error .suggestion`, "IMPORT_UPLOAD_MAX_BYTES"),
		dismissToasts(),
	)

	// The progress the page shows is recorded as it changes.
	watch := void(chromedp.Evaluate[bool](`(() => { window.seen = [];
		new MutationObserver(() => { const el = document.querySelector(".import-progress .progress-counts");
			if (el && window.seen[window.seen.length - 1] !== el.textContent) window.seen.push(el.textContent); })
			.observe(document.querySelector("main"), {subtree: true, childList: true, characterData: true});
		return true; })()`))
	do(t, ctx, "the import of a big file",
		chromedp.SetUploadFiles(chromedp.CSS(`#csv-file`), []string{file}),
		chromedp.Click(chromedp.CSS(`#csv-dry-run`)),
		chromedp.Click(chromedp.Search(`//label[normalize-space()="Messe Frankfurt"]/input`)),
		watch,
		click("Import"),
		chromedp.WaitVisible(chromedp.CSS(`.import-progress progress`)),
		button("Cancel import"),
		void(chromedp.Poll[bool](`(() => { const el = document.querySelector('[data-progress="rows"]'); return !el || el.textContent !== "0"; })()`)),
	)
	shot(t, ctx, "import-progress", ".import-progress")
	// The import itself may take minutes under the race detector on a
	// loaded machine (SQLite, 30,000 rows, about 2.5 minutes on an idle
	// 2-core one, where SQLite's writes cost ten times as much), while
	// other packages' tests run beside it: a longer wait than a step's.
	reportCtx, cancelReport := context.WithTimeout(ctx, 7*time.Minute)
	if _, err := chromedp.Run(reportCtx, waitTextWithin(7*time.Minute, `.report h2`, "Import done")); err != nil {
		t.Fatalf("the report: %v", err)
	}
	cancelReport()
	do(t, ctx, "the report", chromedp.WaitNotPresent(chromedp.CSS(`.import-progress`)))
	seen := evaluate[[]string](t, ctx, `window.seen`)
	// Between the start and the end the bar moved: some rows of the file
	// done, with the bytes.
	mid := false
	for _, p := range seen {
		var rows int
		if _, err := fmt.Sscanf(p, "%d rows done, ", &rows); err == nil && rows > 0 && rows < 30000 && strings.Contains(p, " of 1.3 MiB (") {
			mid = true
		}
	}
	if !mid {
		t.Errorf("the progress showed %q, want rows and bytes done part of the way", seen)
	}

	list := apptest.Post(t, op, `{ importJobs(first: 1) { totalCount edges { node { id state fileName } } } }`).NoErrors(t)
	if apptest.Path(list, "importJobs", "totalCount") != float64(1) {
		t.Fatalf("imports: %v, want the one upload (the refused file stores nothing)", list)
	}
	id := apptest.Path(list, "importJobs", "edges").([]any)[0].(map[string]any)["node"].(map[string]any)["id"].(string)
	job := apptest.Post(t, op, `query($id: ID!) { importJob(id: $id) { state fileName personaIds report { rowsRead created updated unchanged duplicates invalid errorsOmitted errors { line } } } }`, client.Var("id", id)).NoErrors(t)
	if apptest.Path(job, "importJob", "state") != "DONE" || apptest.Path(job, "importJob", "fileName") != "messe-frankfurt-0.csv" || len(apptest.Path(job, "importJob", "personaIds").([]any)) != 1 {
		t.Fatalf("the import is %v", job)
	}
	r := apptest.Path(job, "importJob", "report").(map[string]any)
	listed := len(r["errors"].([]any))
	delete(r, "errors")
	if r["rowsRead"] != float64(30000) || r["invalid"] != float64(invalid) || r["duplicates"] != float64(duplicates) ||
		r["created"] != float64(30000-invalid-duplicates) {
		t.Errorf("the API reports %v, want %d invalid and %d duplicates of 30000 rows", r, invalid, duplicates)
	}
	for _, k := range []string{"created", "updated", "unchanged", "duplicates", "invalid"} {
		if got := evaluate[string](t, ctx, `document.querySelector('.report [data-count="`+k+`"]').textContent`); got != fmt.Sprint(r[k]) {
			t.Errorf("the page shows %s %s, the API %v", k, got, r[k])
		}
	}
	if rows := evaluate[int](t, ctx, `document.querySelectorAll(".row-errors tbody tr").length`); rows != listed {
		t.Errorf("the page lists %d skipped rows, the API %d", rows, listed)
	}
	if omitted := r["errorsOmitted"].(float64); omitted <= 0 || listed+int(omitted) != invalid+duplicates {
		t.Errorf("the API lists %d skipped rows and omits %v, want %d in all with some omitted", listed, omitted, invalid+duplicates)
	} else {
		do(t, ctx, "the rows not listed", waitText(`.report`, fmt.Sprintf("And %d more skipped rows not listed.", int(omitted))))
	}
	if first := evaluate[[]string](t, ctx, `[...document.querySelectorAll(".row-errors tbody tr")].slice(0, 2).map((tr) => tr.innerText)`); len(first) != 2 ||
		!strings.HasPrefix(first[0], "3\tduplicate") || !strings.HasPrefix(first[1], "26\t") {
		t.Errorf("the first skipped rows are %q, want line 3 (a duplicate) and line 26 (no number) with their reasons", first)
	}
	do(t, ctx, "dismiss the messages", dismissToasts())
	shot(t, ctx, "import-big", ".report")

	// An import canceled through the dialog before it ends: the job queue
	// is paused, so that it waits for a worker until it is canceled.
	if err := s.App.Jobs.Client().QueuePause(context.Background(), river.QueueDefault, nil); err != nil {
		t.Fatal(err)
	}
	do(t, ctx, "cancel an import",
		chromedp.SetUploadFiles(chromedp.CSS(`#csv-file`), []string{second}),
		click("Import"),
		waitText(`.import-progress h2`, "Queued: waiting for a worker"),
		click("Cancel import"),
		click("Cancel"),
		chromedp.WaitNotPresent(chromedp.CSS(`dialog`)),
		click("Cancel import"),
		click("Cancel the import"),
		waitText(`.report h2`, "Import canceled"),
		chromedp.WaitNotPresent(chromedp.CSS(`.import-progress`)),
	)
	list = apptest.Post(t, op, `{ importJobs(first: 1) { edges { node { state fileName report { rowsRead } } } } }`).NoErrors(t)
	if n := apptest.Path(list, "importJobs", "edges").([]any)[0].(map[string]any)["node"].(map[string]any); n["state"] != "CANCELED" || n["fileName"] != "messe-frankfurt-1.csv" || apptest.Path(n, "report", "rowsRead") != float64(0) {
		t.Errorf("the canceled import is %v", n)
	}
	if err := s.App.Jobs.Client().QueueResume(context.Background(), river.QueueDefault, nil); err != nil {
		t.Fatal(err)
	}

	// The token went in a header, never in an address the browser fetched.
	if urls := evaluate[[]string](t, ctx, `performance.getEntriesByType("resource").map((e) => e.name).filter((u) => u.includes("graphql"))`); len(urls) == 0 || slices.ContainsFunc(urls, func(u string) bool { return strings.Contains(u, token) }) {
		t.Errorf("the GraphQL requests went to %q", urls)
	}

	// A VIEWER sees no import: not in the menu, and the screen says why.
	viewer := s.Token(t, auth.Viewer)
	do(t, ctx, "sign out", void(chromedp.Evaluate[bool](`sessionStorage.clear(), true`)))
	signIn(t, ctx, s.URL, viewer)
	do(t, ctx, "a viewer",
		chromedp.WaitVisible(chromedp.Search(`//nav//a[normalize-space()="Contacts"]`)),
		chromedp.WaitNotPresent(chromedp.Search(`//nav//a[normalize-space()="Import"]`)),
		chromedp.Navigate(s.URL+"/#/import"),
		waitText(`main`, "Importing needs the OPERATOR role"),
	)
	if c := writeControls(t, ctx); len(c) != 0 {
		t.Errorf("a viewer sees %q on the import screen", c)
	}
}
