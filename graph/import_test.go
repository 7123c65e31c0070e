package graph_test

// Job-backed CSV imports through the real server: a multipart upload over
// HTTP (the GraphQL multipart request spec), the import job run by River,
// its progress over the websocket, the report, and the upload limits.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/client"

	"wagraph/internal/apperr"
	"wagraph/internal/apptest"
	"wagraph/internal/auth"
	"wagraph/internal/store/storetest"
)

// multipartBody builds a multipart GraphQL request: operations, map, then
// the files (part name → content), in the spec's order.
func multipartBody(t *testing.T, operations, fileMap string, files ...[2]string) ([]byte, string) {
	t.Helper()
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	if operations != "" {
		_ = w.WriteField("operations", operations)
	}
	if fileMap != "" {
		_ = w.WriteField("map", fileMap)
	}
	for _, f := range files {
		part, err := w.CreateFormFile(f[0], "contacts.csv")
		if err != nil {
			t.Fatal(err)
		}
		_, _ = part.Write([]byte(f[1]))
	}
	_ = w.Close()
	return b.Bytes(), w.FormDataContentType()
}

type gqlResponse struct {
	Data   map[string]any
	Errors []apptest.GQLError
}

func postMultipart(t *testing.T, s *apptest.Server, token string, body []byte, contentType string) (int, gqlResponse) {
	t.Helper()
	resp, raw := s.Do(t, http.MethodPost, "/graphql", body, "Authorization", "Bearer "+token, "Content-Type", contentType)
	var out gqlResponse
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("answer %d is not JSON: %s", resp.StatusCode, raw)
	}
	return resp.StatusCode, out
}

const importMutation = `mutation($file: Upload!, $dry: Boolean) { importContactsCsv(input: {file: $file, defaultRegion: "DE", dryRun: $dry}) {
	job { id state fileName fileBytes dryRun } } }`

func importOperations(dry bool) string {
	b, _ := json.Marshal(map[string]any{"query": importMutation, "variables": map[string]any{"file": nil, "dry": dry}})
	return string(b)
}

// importFile is 5 data rows: 3 new contacts, a duplicate, an invalid row.
const importFile = "\ufeffNumber;Name;City\n" +
	"0151 23456781;Ana;Berlin\n" +
	"+49 151 23456782;\"Bruno\nB.\";Köln\n" +
	"+49 151 23456783;Cris;\n" +
	"0049 151 23456781;Ana again;\n" +
	"12;Short;\n"

func TestImportCsvOverMultipart(t *testing.T) {
	for _, dialect := range storetest.Dialects {
		t.Run(string(dialect), func(t *testing.T) {
			s := apptest.Start(t, apptest.Env{"DATABASE_URL": storetest.URL(t, dialect), "IMPORT_UPLOAD_MAX_BYTES": "2048", "LOG_LEVEL": "info"})
			op, viewer := s.Token(t, auth.Operator), s.Token(t, auth.Viewer)
			live := openLive(t, s, apptest.TransportWS, viewer)

			body, ct := multipartBody(t, importOperations(false), `{"0": ["variables.file"]}`, [2]string{"0", importFile})
			status, res := postMultipart(t, s, op, body, ct)
			if status != http.StatusOK || len(res.Errors) > 0 {
				t.Fatalf("upload: %d %+v", status, res.Errors)
			}
			job := apptest.Path(res.Data, "importContactsCsv", "job").(map[string]any)
			if job["state"] != "QUEUED" || job["fileName"] != "contacts.csv" || job["fileBytes"] != float64(len(importFile)) {
				t.Fatalf("job: %v", job)
			}
			id := job["id"].(string)
			final := followImport(t, live, id)
			rep := apptest.Path(final, "job", "report")
			if got := reportCounts(rep); got != "rows=5 created=3 updated=0 unchanged=0 dups=1 invalid=1" {
				t.Fatalf("report: %s (%v)", got, rep)
			}
			if apptest.Path(final, "job", "state") != "DONE" || apptest.Path(final, "job", "progress") != float64(1) {
				t.Fatalf("final event: %v", final)
			}
			errs := apptest.Path(rep, "errors").([]any)
			if len(errs) != 2 || apptest.Path(errs[0], "line") != float64(6) || apptest.Path(errs[1], "line") != float64(7) {
				t.Fatalf("errors: %v", errs)
			}

			// The same file again changes nothing.
			_, res = postMultipart(t, s, op, body, ct)
			again := followImport(t, live, apptest.Path(res.Data, "importContactsCsv", "job", "id").(string))
			if got := reportCounts(apptest.Path(again, "job", "report")); got != "rows=5 created=0 updated=0 unchanged=3 dups=1 invalid=1" {
				t.Fatalf("re-import: %s", got)
			}
			list := apptest.Post(t, s.Client(apptest.Bearer(viewer)), `{ importJobs(first: 1) { totalCount edges { node { id state } } pageInfo { hasNextPage } }
				importJob(id: "`+id+`") { state report { created errors { line reason } } } }`).NoErrors(t)
			if apptest.Path(list, "importJobs", "totalCount") != float64(2) || apptest.Path(list, "importJobs", "pageInfo", "hasNextPage") != true ||
				apptest.Path(list, "importJob", "report", "created") != float64(3) {
				t.Fatalf("queries: %v", list)
			}

			// An import that has ended cannot be canceled.
			e := apptest.Post(t, s.Client(apptest.Bearer(op)), `mutation { cancelImport(input: {id: "`+id+`"}) { job { state } } }`).Only(t)
			if e.Code() != string(apperr.InvalidTransition) || !strings.Contains(e.Message, "DONE") {
				t.Fatalf("cancel a DONE import: %s %q", e.Code(), e.Message)
			}

			// VIEWER reads but does not import.
			_, res = postMultipart(t, s, viewer, body, ct)
			if len(res.Errors) != 1 || res.Errors[0].Code() != string(apperr.Forbidden) {
				t.Fatalf("VIEWER import: %+v", res.Errors)
			}
		})
	}
}

// followImport subscribes to an import's progress and returns its final
// event, checking that versions only grow.
func followImport(t *testing.T, live *liveWS, id string) map[string]any {
	t.Helper()
	live.subscribe(id, `subscription($id: ID!) { importProgress(jobId: $id) { jobId version snapshot final job { state progress
		report { rowsRead created updated unchanged duplicates invalid errors { line reason } } } } }`, map[string]any{"id": id})
	last := int64(0)
	for i := 0; ; i++ {
		ev := live.next(id)["importProgress"].(map[string]any)
		if v := int64At(t, ev, "version"); v <= last {
			t.Fatalf("event %d: version %d after %d", i, v, last)
		} else {
			last = v
		}
		if (i == 0) != (ev["snapshot"] == true) {
			t.Fatalf("event %d: snapshot=%v", i, ev["snapshot"])
		}
		if ev["final"] == true {
			live.completed(id)
			return ev
		}
	}
}

func reportCounts(rep any) string {
	n := func(k string) any { return apptest.Path(rep, k) }
	return fmt.Sprintf("rows=%v created=%v updated=%v unchanged=%v dups=%v invalid=%v",
		n("rowsRead"), n("created"), n("updated"), n("unchanged"), n("duplicates"), n("invalid"))
}

func TestUploadRefusals(t *testing.T) {
	s := apptest.Start(t, apptest.Env{"IMPORT_UPLOAD_MAX_BYTES": "2048", "LOG_LEVEL": "warn"})
	op := s.Token(t, auth.Operator)
	big := "phone\n" + strings.Repeat("+4915123456789\n", 200) // 3006 bytes
	for _, tc := range []struct {
		name       string
		operations string
		fileMap    string
		files      [][2]string
		status     int
		code, want string
	}{
		{"over the upload limit", importOperations(false), `{"0": ["variables.file"]}`, [][2]string{{"0", big}},
			http.StatusRequestEntityTooLarge, "BAD_REQUEST", "IMPORT_UPLOAD_MAX_BYTES"},
		{"no map", importOperations(false), "", nil, http.StatusBadRequest, "BAD_REQUEST", "no map part"},
		{"no operations", "", `{"0": ["variables.file"]}`, nil, http.StatusBadRequest, "BAD_REQUEST", "operations"},
		{"file missing", importOperations(false), `{"0": ["variables.file"]}`, nil, http.StatusBadRequest, "BAD_REQUEST", `names file "0"`},
		{"path to nothing", importOperations(false), `{"0": ["variables.nope"]}`, [][2]string{{"0", "phone\n"}}, http.StatusBadRequest, "BAD_REQUEST", "names no variable"},
		{"batch", `[` + importOperations(false) + `]`, `{}`, nil, http.StatusBadRequest, "BAD_REQUEST", "batched"},
		{"no phone column", importOperations(false), `{"0": ["variables.file"]}`, [][2]string{{"0", "name,city\nAna,Berlin\n"}},
			http.StatusOK, "INVALID_INPUT", `it has "name", "city"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body, ct := multipartBody(t, tc.operations, tc.fileMap, tc.files...)
			status, res := postMultipart(t, s, op, body, ct)
			if status != tc.status || len(res.Errors) != 1 || res.Errors[0].Code() != tc.code ||
				!strings.Contains(res.Errors[0].Message, tc.want) || res.Errors[0].Suggestion() == "" && tc.code != "BAD_REQUEST" {
				t.Fatalf("%d %+v; want %d %s %q", status, res.Errors, tc.status, tc.code, tc.want)
			}
		})
	}
	var n int
	if err := s.App.DB.NewRaw("SELECT count(*) FROM contact_imports").Scan(t.Context(), &n); err != nil || n != 0 {
		t.Fatalf("%d imports stored from refused uploads (%v)", n, err)
	}
}

// importContacts (a JSON list) is bounded as documented: a list too large
// for one request is refused before anything is written, with a code and
// a suggestion, whichever limit it reaches first.
func TestImportContactsListLimit(t *testing.T) {
	s := apptest.Start(t, apptest.Env{"LOG_LEVEL": "warn"})
	op := s.Client(apptest.Bearer(s.Token(t, auth.Operator)))
	list := func(n int) []map[string]any {
		out := make([]map[string]any, n)
		for i := range out {
			out[i] = map[string]any{"phoneNumber": fmt.Sprintf("+49151%08d", i)}
		}
		return out
	}
	const m = `mutation($c: [ContactInput!]!) { importContacts(input: {contacts: $c, dryRun: true}) { report { rowsRead created } } }`
	rep := apptest.Post(t, op, m, client.Var("c", list(8000))).NoErrors(t)
	if apptest.Path(rep, "importContacts", "report", "created") != float64(8000) {
		t.Fatalf("8000 contacts: %v", rep)
	}
	res := apptest.Post(t, op, m, client.Var("c", list(10_001)))
	if e := res.Only(t); res.Status != http.StatusRequestEntityTooLarge || e.Code() != string(apperr.BadRequest) ||
		!strings.Contains(e.Message, "JSON values") || e.Suggestion() == "" {
		t.Fatalf("10,001 contacts: %d %+v", res.Status, e)
	}
	if n, _ := s.App.Contacts.Count(t.Context()); n != 0 {
		t.Fatalf("%d contacts written", n)
	}
}
