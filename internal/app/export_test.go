package app_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"wagraph/internal/apptest"
	"wagraph/internal/auth"
	"wagraph/internal/contact"
)

// GET /export/contacts.csv as a client with a token uses it: a VIEWER gets
// the filtered contacts as CSV, a request without a valid token a coded
// error, a bad filter a coded error naming the parameter.
func TestExportContactsRoute(t *testing.T) {
	srv := apptest.Start(t, apptest.Env{"CONTACT_DEFAULT_REGION": "DE", "ALLOWED_ORIGINS": "https://admin.example.com"})
	ctx := context.Background()
	rep, err := srv.App.Contacts.ImportCSV(ctx, contact.ImportInput{CSV: strings.NewReader(
		"phone,name,opted_out\n0151 23456781,=cmd|' /C calc'!A0,no\n0151 23456782,Bruno,yes\n")})
	if err != nil || rep.Created != 2 {
		t.Fatalf("import: %+v %v", rep, err)
	}
	viewer := srv.Token(t, auth.Viewer)
	_, metrics := srv.Get(t, "/metrics")
	for _, want := range []string{"wagraph_contacts 2\n", `wagraph_contact_import_rows_total{outcome="created"} 2`} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	resp, body := srv.Get(t, "/export/contacts.csv?optedOut=false", "Authorization", "Bearer "+viewer)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") ||
		!strings.Contains(resp.Header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("export: %d %v %s", resp.StatusCode, resp.Header, body)
	}
	recs, err := csv.NewReader(strings.NewReader(string(body))).ReadAll()
	if err != nil || len(recs) != 2 || recs[1][1] != "'+4915123456781" || recs[1][4] != "'=cmd|' /C calc'!A0" {
		t.Fatalf("export body: %q %v", recs, err)
	}

	// A browser on an allowed origin may ask first (CORS preflight); other
	// methods are refused.
	req, _ := http.NewRequest(http.MethodOptions, srv.URL+"/export/contacts.csv", nil)
	req.Header.Set("Origin", "https://admin.example.com")
	req.Header.Set("Access-Control-Request-Method", "GET")
	req.Header.Set("Access-Control-Request-Headers", "authorization")
	pre, err := srv.HTTP.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	pre.Body.Close()
	if pre.StatusCode != http.StatusNoContent || pre.Header.Get("Access-Control-Allow-Origin") != "https://admin.example.com" {
		t.Fatalf("preflight: %d %v", pre.StatusCode, pre.Header)
	}
	if resp, _ := srv.Do(t, http.MethodPost, "/export/contacts.csv", nil, "Authorization", "Bearer "+viewer); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST: %d", resp.StatusCode)
	}

	for name, tc := range map[string]struct {
		path, token string
		status      int
		code        string
	}{
		"no token":  {"/export/contacts.csv", "", 401, "UNAUTHENTICATED"},
		"bad token": {"/export/contacts.csv", "wag_nope_nope", 401, "UNAUTHENTICATED"},
		"bad bool":  {"/export/contacts.csv?hasPhone=maybe", viewer, 400, "INVALID_INPUT"},
		"bad kind":  {"/export/contacts.csv?source=FAX", viewer, 400, "INVALID_INPUT"},
	} {
		t.Run(name, func(t *testing.T) {
			var hdr []string
			if tc.token != "" {
				hdr = []string{"Authorization", "Bearer " + tc.token}
			}
			resp, body := srv.Get(t, tc.path, hdr...)
			var out struct {
				Errors []struct {
					Message    string         `json:"message"`
					Extensions map[string]any `json:"extensions"`
				} `json:"errors"`
			}
			if resp.StatusCode != tc.status || json.Unmarshal(body, &out) != nil || len(out.Errors) != 1 ||
				out.Errors[0].Extensions["code"] != tc.code || out.Errors[0].Extensions["suggestion"] == "" {
				t.Fatalf("%d %s", resp.StatusCode, body)
			}
		})
	}
}
