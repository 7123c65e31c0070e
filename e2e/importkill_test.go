package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
	"time"

	"wagraph/internal/store"
	"wagraph/internal/store/storetest"
)

// A contact import killed mid-file (kill -9 of the server) resumes after a
// restart from its last checkpoint and ends with exactly the contacts and
// report of a run without the crash: no row lost, none counted twice.
func TestImportKilledMidFileResumesAfterRestart(t *testing.T) {
	dbURL := storetest.URL(t, store.Postgres)
	bin := buildWagraph(t)
	env := []string{"DATABASE_URL=" + dbURL, "LOG_FORMAT=json", "LOG_LEVEL=debug", "JOB_RESCUE_AFTER=10s"}
	command(t, bin, env, "migrate")
	operator := strings.TrimSpace(command(t, bin, env, "token", "create", "--role", "OPERATOR", "--name", "e2e-import"))

	// 200,000 rows: 1% invalid, 40% repeating an earlier number.
	const rows = 200_000
	var file strings.Builder
	file.WriteString("phone,name\n")
	distinct, dups, invalid := 0, 0, 0
	for i := range rows {
		switch {
		case i%100 == 99:
			fmt.Fprintf(&file, "nope-%d,Broken\n", i)
			invalid++
		case distinct > 0 && (i%5 == 1 || i%5 == 3):
			fmt.Fprintf(&file, "+49151%08d,Again %d\n", (i*7919)%distinct, i)
			dups++
		default:
			fmt.Fprintf(&file, "+49151%08d,Person %d\n", distinct, i)
			distinct++
		}
	}

	first := startProcess(t, bin, env)
	id := first.uploadCSV(t, operator, file.String())
	first.waitLog(t, `"message":"contact import batch written"`, 60*time.Second)
	first.kill(t)

	ctx := context.Background()
	db, err := store.Open(ctx, dbURL, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	var state string
	var rowsRead int
	if err := db.NewRaw("SELECT state, rows_read FROM contact_imports WHERE id = ?", id).Scan(ctx, &state, &rowsRead); err != nil {
		t.Fatal(err)
	}
	if state != "RUNNING" || rowsRead == 0 || rowsRead == rows {
		t.Fatalf("after the kill: %s with %d of %d rows; want the import killed mid-file", state, rowsRead, rows)
	}

	second := startProcess(t, bin, env)
	second.waitLog(t, `"message":"contact import done"`, 180*time.Second)
	second.stop(t)
	var got struct {
		State      string `bun:"state"`
		RowsRead   int    `bun:"rows_read"`
		Created    int    `bun:"created"`
		Updated    int    `bun:"updated"`
		Unchanged  int    `bun:"unchanged"`
		Duplicates int    `bun:"duplicates"`
		Invalid    int    `bun:"invalid"`
	}
	if err := db.NewRaw("SELECT state, rows_read, created, updated, unchanged, duplicates, invalid FROM contact_imports WHERE id = ?", id).Scan(ctx, &got); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("{DONE %d %d 0 0 %d %d}", rows, distinct, dups, invalid)
	if fmt.Sprint(got) != want {
		t.Fatalf("report after the restart: %v, want %s", got, want)
	}
	var contacts, sources int
	if err := db.NewRaw("SELECT count(*) FROM mkt_wap_contacts").Scan(ctx, &contacts); err != nil {
		t.Fatal(err)
	}
	if err := db.NewRaw("SELECT count(*) FROM contact_sources WHERE import_id = ?", id).Scan(ctx, &sources); err != nil {
		t.Fatal(err)
	}
	if contacts != distinct || sources != distinct {
		t.Fatalf("%d contacts and %d provenance rows, want %d of each", contacts, sources, distinct)
	}
	t.Logf("killed at %d of %d rows; resumed and done: %v", rowsRead, rows, got)
}

// uploadCSV starts a job-backed import of text (a multipart upload) and
// returns the import's id.
func (p *process) uploadCSV(t *testing.T, token, text string) string {
	t.Helper()
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	_ = w.WriteField("operations", `{"query": "mutation($f: Upload!) { importContactsCsv(input: {file: $f}) { job { id } } }", "variables": {"f": null}}`)
	_ = w.WriteField("map", `{"0": ["variables.f"]}`)
	part, _ := w.CreateFormFile("0", "contacts.csv")
	_, _ = part.Write([]byte(text))
	_ = w.Close()
	req, err := http.NewRequest(http.MethodPost, p.Base+"/graphql", &body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", w.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Data struct {
			ImportContactsCsv struct{ Job struct{ ID string } }
		}
		Errors []map[string]any
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || len(out.Errors) > 0 || out.Data.ImportContactsCsv.Job.ID == "" {
		t.Fatalf("upload: %d %+v %v", resp.StatusCode, out, err)
	}
	return out.Data.ImportContactsCsv.Job.ID
}
