package simserver_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"wagraph/internal/simserver"
	"wagraph/internal/wasim"
)

// controlAPI serves a fresh simulator's control API in-process.
func controlAPI(t testing.TB) http.Handler {
	t.Helper()
	sim, err := wasim.Start(t.Context(), wasim.Options{RootKey: &root})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	return simserver.Handler(sim, zerolog.Nop())
}

func call(h http.Handler, method, path, contentType, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// Requests the API cannot act on get a JSON error with a code and a
// message that says what to send.
func TestControlAPIRefusesBadRequests(t *testing.T) {
	h := controlAPI(t)
	const js = "application/json"
	tests := []struct {
		name, method, path, contentType, body string
		status                                int
		code, message                         string
	}{
		{"too large", "POST", "/v1/scan", js, `{"qr":"` + strings.Repeat("x", 1<<20) + `"}`, 413, "TOO_LARGE", "larger than"},
		{"unknown field", "POST", "/v1/scan", js, `{"qr":"x","qrcode":"y"}`, 400, "BAD_REQUEST", "unknown field"},
		{"trailing data", "POST", "/v1/scan", js, `{"qr":"x"} {}`, 400, "BAD_REQUEST", "trailing data"},
		{"not JSON", "POST", "/v1/scan", js, `qr=x`, 400, "BAD_REQUEST", "unreadable JSON"},
		{"form content type", "POST", "/v1/scan", "application/x-www-form-urlencoded", `qr=x`, 415, "BAD_REQUEST", "application/json"},
		{"no QR", "POST", "/v1/scan", js, `{}`, 400, "BAD_REQUEST", "qr:"},
		{"unknown scanning phone", "POST", "/v1/scan", js, `{"qr":"a,b,c,d","phone":"+19990000000"}`, 404, "NOT_FOUND", "POST /v1/phones"},
		{"pairing code without number", "POST", "/v1/pairing-code", js, `{"code":"ABCD-EFGH"}`, 400, "BAD_REQUEST", "phoneNumber"},
		{"pairing code with letters in the number", "POST", "/v1/pairing-code", js, `{"phoneNumber":"+1555abc0000","code":"ABCD-EFGH"}`, 400, "BAD_REQUEST", "phoneNumber"},
		{"fault without JID", "POST", "/v1/faults/drop", js, `{}`, 400, "BAD_REQUEST", "jid:"},
		{"fault on a group JID", "POST", "/v1/faults/drop", js, `{"jid":"123@g.us"}`, 400, "BAD_REQUEST", "not a user or device JID"},
		{"unknown fault", "POST", "/v1/faults/explode", js, `{"jid":"15550100001@s.whatsapp.net"}`, 404, "NOT_FOUND", "replace-stream"},
		{"temp ban without expiry", "POST", "/v1/faults/temp-ban", js, `{"jid":"15550100001@s.whatsapp.net","code":101}`, 400, "BAD_REQUEST", "expiry"},
		{"negative handshake delay", "POST", "/v1/handshakes", js, `{"delay":"-1s"}`, 400, "BAD_REQUEST", "delay"},
		{"group owner that is no number", "POST", "/v1/groups", js, `{"owner":"bob","name":"G"}`, 400, "BAD_REQUEST", "owner"},
		{"unknown endpoint", "GET", "/v1/nothing", "", "", 404, "NOT_FOUND", "docs/simulator.md"},
		{"wrong method", "GET", "/v1/scan", "", "", 404, "NOT_FOUND", "GET /v1/scan"},
		{"devices of a bad JID", "GET", "/v1/devices?jid=x@y@z", "", "", 400, "BAD_REQUEST", "jid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := call(h, tt.method, tt.path, tt.contentType, tt.body)
			var got struct {
				Error simserver.Error `json:"error"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatalf("HTTP %d, body %q is not a JSON error", rec.Code, rec.Body.String())
			}
			if rec.Code != tt.status || got.Error.Code != tt.code || !strings.Contains(got.Error.Message, tt.message) {
				t.Errorf("HTTP %d %+v, want %d %s with %q", rec.Code, got.Error, tt.status, tt.code, tt.message)
			}
		})
	}
}

// FuzzControlAPI sends arbitrary bodies to every endpoint: the API answers
// each with JSON, a success or a 4xx error, and never fails or panics.
func FuzzControlAPI(f *testing.F) {
	paths := []string{"/v1/phones", "/v1/scan", "/v1/pairing-code", "/v1/groups", "/v1/faults/drop", "/v1/faults/logout",
		"/v1/faults/replace-stream", "/v1/faults/temp-ban", "/v1/faults/lift-ban", "/v1/faults/reject-sends", "/v1/handshakes"}
	seeds := []string{
		`{}`, `{"qr":"2@abc,AAAA,BBBB,CCCC"}`, `{"qr":"x","phone":"+15550100001"}`,
		`{"phoneNumber":"+49 151 23456789","code":"ABCD-EFGH"}`,
		`{"owner":"15550100001@s.whatsapp.net","name":"G","participants":[{"phone":"+15550100002"},{"lid":"1@lid","admin":true}],"addressingMode":"lid"}`,
		`{"jid":"15550100001:1@s.whatsapp.net","code":101,"expiry":"10m"}`, `{"jid":"1@lid"}`,
		`{"delay":"2s","refuse":true}`, `[]`, `null`, `{"qr":null}`, `"`,
	}
	for i, s := range seeds {
		f.Add(uint8(i), s)
	}
	h := controlAPI(f)
	f.Fuzz(func(t *testing.T, which uint8, body string) {
		path := paths[int(which)%len(paths)]
		rec := call(h, "POST", path, "application/json", body)
		if rec.Code >= 500 {
			t.Fatalf("POST %s %q: HTTP %d %s", path, body, rec.Code, rec.Body.String())
		}
		if !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("POST %s %q: answer is not JSON: %q", path, body, rec.Body.String())
		}
		// The handshake settings are global: undo them for the next input.
		call(h, "POST", "/v1/handshakes", "application/json", `{}`)
	})
}
