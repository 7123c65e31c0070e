package graph_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"wagraph/internal/apptest"
	"wagraph/internal/auth"
)

// TestGraphQLOverHTTP pins the status codes, content types and error codes
// of the GraphQL-over-HTTP spec that the graphql-http audit (.ci) checks, so
// that go test catches a regression without Node.
func TestGraphQLOverHTTP(t *testing.T) {
	s := apptest.Start(t, nil)
	token := s.Token(t, auth.Viewer)
	const (
		json_ = "application/json"
		grj   = "application/graphql-response+json"
	)
	get := func(params url.Values) (string, string, []byte) {
		return http.MethodGet, "/graphql?" + params.Encode(), nil
	}
	post := func(body string) (string, string, []byte) {
		return http.MethodPost, "/graphql", []byte(body)
	}
	tests := []struct {
		name        string
		method      string
		path        string
		body        []byte
		contentType string // request Content-Type; "-" sends none
		accept      string
		status      int
		media       string // response media type
		code        string // first error's extensions.code; "" for no errors
		data        string // "present", "absent"
		allow       string
	}{
		{name: "query, no Accept", contentType: json_, status: 200, media: json_, data: "present"},
		{name: "query, Accept */*", contentType: json_, accept: "*/*", status: 200, media: json_, data: "present"},
		{name: "query, Accept graphql-response", contentType: json_, accept: grj, status: 200, media: grj, data: "present"},
		{name: "query, Accept prefers graphql-response by q", contentType: json_, accept: "application/json;q=0.5, " + grj, status: 200, media: grj, data: "present"},
		{name: "query, charset utf-8", contentType: json_ + "; charset=utf-8", status: 200, media: json_, data: "present"},
		{name: "Accept without a supported type", contentType: json_, accept: "text/html", status: 406, media: json_, code: "BAD_REQUEST", data: "absent"},
		{name: "no content type", contentType: "-", status: 415, media: json_, code: "BAD_REQUEST", data: "absent"},
		{name: "text/plain", contentType: "text/plain;charset=UTF-8", status: 415, media: json_, code: "BAD_REQUEST", data: "absent"},
		{name: "latin-1 JSON", contentType: json_ + "; charset=iso-8859-1", status: 415, media: json_, code: "BAD_REQUEST", data: "absent"},
		{name: "PUT", method: http.MethodPut, contentType: json_, status: 405, media: json_, code: "BAD_REQUEST", data: "absent", allow: "GET, POST, OPTIONS"},
		{name: "empty body", body: []byte{}, contentType: json_, status: 400, media: json_, code: "BAD_REQUEST", data: "absent"},
		{name: "body not JSON", body: []byte(`{ "not a JSON`), contentType: json_, accept: grj, status: 400, media: grj, code: "BAD_REQUEST", data: "absent"},
		{name: "no query", body: []byte(`{"qeury":"{ __typename }"}`), contentType: json_, status: 400, media: json_, code: "BAD_REQUEST", data: "absent"},
		{name: "query not a string", body: []byte(`{"query":{"obj":"ect"}}`), contentType: json_, status: 400, media: json_, code: "BAD_REQUEST", data: "absent"},
		{name: "variables a string", body: []byte(`{"query":"{ __typename }","variables":"{}"}`), contentType: json_, status: 400, media: json_, code: "BAD_REQUEST", data: "absent"},
		{name: "extensions an array", body: []byte(`{"query":"{ __typename }","extensions":[]}`), contentType: json_, status: 400, media: json_, code: "BAD_REQUEST", data: "absent"},
		{name: "operationName a number", body: []byte(`{"query":"{ __typename }","operationName":0}`), contentType: json_, status: 400, media: json_, code: "BAD_REQUEST", data: "absent"},
		{name: "null parameters", body: []byte(`{"query":"{ __typename }","variables":null,"operationName":null,"extensions":null}`), contentType: json_, status: 200, media: json_, data: "present"},
		{name: "variables nested too deep", body: []byte(`{"query":"{ __typename }","variables":{"v":` + strings.Repeat("[", 70) + strings.Repeat("]", 70) + `}}`), contentType: json_, status: 400, media: json_, code: "BAD_REQUEST", data: "absent"},
		{name: "variables with too many values", body: []byte(`{"query":"{ __typename }","variables":{"v":[0` + strings.Repeat(",0", 30_000) + `]}}`), contentType: json_, status: 413, media: json_, code: "BAD_REQUEST", data: "absent"},
		{name: "parse error, JSON", body: []byte(`{"query":"{"}`), contentType: json_, accept: json_, status: 200, media: json_, code: "GRAPHQL_PARSE_FAILED", data: "absent"},
		{name: "parse error, graphql-response", body: []byte(`{"query":"{"}`), contentType: json_, accept: grj, status: 400, media: grj, code: "GRAPHQL_PARSE_FAILED", data: "absent"},
		{name: "validation error, JSON", body: []byte(`{"query":"{ nope }"}`), contentType: json_, accept: json_, status: 200, media: json_, code: "GRAPHQL_VALIDATION_FAILED", data: "absent"},
		{name: "validation error, graphql-response", body: []byte(`{"query":"{ nope }"}`), contentType: json_, accept: grj, status: 400, media: grj, code: "GRAPHQL_VALIDATION_FAILED", data: "absent"},
		{name: "variable coercion, JSON", body: []byte(`{"query":"query($id: String!) { __type(name: $id) { name } }","variables":{"id":null}}`), contentType: json_, status: 200, media: json_, code: "GRAPHQL_VALIDATION_FAILED", data: "absent"},
		{name: "variable coercion, graphql-response", body: []byte(`{"query":"query($id: String!) { __type(name: $id) { name } }","variables":{"id":null}}`), contentType: json_, accept: grj, status: 400, media: grj, code: "GRAPHQL_VALIDATION_FAILED", data: "absent"},
		{name: "GET query", method: http.MethodGet, path: "?query=" + url.QueryEscape(`query($n: String!) { __type(name: $n) { name } }`) + "&variables=" + url.QueryEscape(`{"n":"Query"}`), status: 200, media: json_, data: "present"},
		{name: "GET without query", method: http.MethodGet, path: "?foo=bar", status: 400, media: json_, code: "BAD_REQUEST", data: "absent"},
		{name: "GET variables not JSON", method: http.MethodGet, path: "?query=" + url.QueryEscape(`{ __typename }`) + "&variables=" + url.QueryEscape(`{n: 1}`), status: 400, media: json_, code: "BAD_REQUEST", data: "absent"},
		{name: "GET mutation", method: http.MethodGet, path: "?query=" + url.QueryEscape(`mutation { __typename }`), accept: grj, status: 405, media: grj, code: "BAD_REQUEST", data: "absent", allow: "POST"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method, path, body := post(`{"query":"{ __typename }"}`)
			if tt.method == http.MethodGet {
				method, path, body = get(nil)
				path += strings.TrimPrefix(tt.path, "?")
			} else if tt.method != "" {
				method = tt.method
			}
			if tt.body != nil {
				body = tt.body
			}
			header := []string{"Authorization", "Bearer " + token}
			if tt.contentType != "-" && tt.contentType != "" {
				header = append(header, "Content-Type", tt.contentType)
			}
			if tt.accept != "" {
				header = append(header, "Accept", tt.accept)
			}
			resp, raw := s.Do(t, method, path, body, header...)
			if resp.StatusCode != tt.status {
				t.Errorf("status %d, want %d: %s", resp.StatusCode, tt.status, raw)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, tt.media) {
				t.Errorf("Content-Type %q, want %s", ct, tt.media)
			}
			if tt.allow != "" && resp.Header.Get("Allow") != tt.allow {
				t.Errorf("Allow %q, want %q", resp.Header.Get("Allow"), tt.allow)
			}
			var r map[string]json.RawMessage
			if err := json.Unmarshal(raw, &r); err != nil {
				t.Fatalf("body is not JSON: %s", raw)
			}
			if _, ok := r["data"]; ok != (tt.data == "present") {
				t.Errorf("data key present=%v, want %s: %s", ok, tt.data, raw)
			}
			errs := apptest.Errors(t, r["errors"])
			if tt.code == "" {
				if len(errs) > 0 {
					t.Errorf("errors %+v", errs)
				}
				return
			}
			if len(errs) == 0 {
				t.Fatalf("no errors, want %s: %s", tt.code, raw)
			}
			if errs[0].Code() != tt.code || errs[0].Suggestion() == "" || errs[0].Extensions["retryable"] != false {
				t.Errorf("error %+v, want %s with a suggestion, not retryable", errs[0], tt.code)
			}
		})
	}
}
