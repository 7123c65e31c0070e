package graph_test

// Fuzz targets for GraphQL over HTTP, through the app's real routes (body
// limit, auth middleware, gqlgen transports, error presenter). Whatever a
// client sends, the answer is JSON with data or errors, and every error
// carries extensions.code; nothing panics and nothing is INTERNAL (an
// INTERNAL error is a bug the fuzzer found). Run one longer with
//
//	go test -run='^$' -fuzz='^FuzzGraphQLPost$' -fuzztime=10m ./graph

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"wagraph/internal/apptest"
	"wagraph/internal/auth"
)

// accountPlaceholder in a fuzzed query or variables stands for the id of an
// account the fixture created, so mutations on an existing account (pairing
// codes with phone numbers, renames) are reachable: the fuzzer cannot guess ids.
const accountPlaceholder = "$ACCOUNT"

// fuzzServer is one app (simulator mode, so activations never reach WhatsApp)
// with a token per role and one account.
type fuzzServer struct {
	handler   http.Handler
	tokens    []string // by fuzzed mode: none, VIEWER, OPERATOR, a malformed one
	accountID string
}

func newFuzzServer(f *testing.F) *fuzzServer {
	f.Helper()
	s := apptest.Start(f, apptest.Env{
		"SIMULATE": "true",
		// Warnings and errors only: a long fuzz run would otherwise keep
		// every request's log line in memory.
		"LOG_LEVEL": "warn",
	})
	operator := s.Token(f, auth.Operator)
	fs := &fuzzServer{
		handler: s.App.Handler,
		tokens:  []string{"", "Bearer " + s.Token(f, auth.Viewer), "Bearer " + operator, "Bearer wag_000000000000_00"},
	}
	res := apptest.Post(f, s.Client(apptest.Bearer(operator)), `mutation { createAccount(input: {name: "fuzz"}) { account { id } } }`).NoErrors(f)
	fs.accountID, _ = apptest.Path(res, "createAccount", "account", "id").(string)
	if fs.accountID == "" {
		f.Fatalf("createAccount answered %v", res)
	}
	return fs
}

// accepts are the Accept headers a fuzzed mode picks from.
var accepts = []string{"", "application/json", "application/graphql-response+json", "*/*"}

// request applies a fuzzed mode (bits 0-1: token, bits 2-3: Accept) to req
// and serves it.
func (fs *fuzzServer) serve(req *http.Request, mode uint8) *httptest.ResponseRecorder {
	if tok := fs.tokens[mode&3]; tok != "" {
		req.Header.Set("Authorization", tok)
	}
	if a := accepts[(mode>>2)&3]; a != "" {
		req.Header.Set("Accept", a)
	}
	rec := httptest.NewRecorder()
	fs.handler.ServeHTTP(rec, req)
	return rec
}

func (fs *fuzzServer) fill(s string) string {
	return strings.ReplaceAll(s, accountPlaceholder, fs.accountID)
}

// checkGraphQLResponse fails t unless rec is a GraphQL response: JSON, with
// data or at least one error, every error with a message and a code, none
// INTERNAL, and no 500.
func checkGraphQLResponse(t *testing.T, rec *httptest.ResponseRecorder, sent string) {
	t.Helper()
	body := rec.Body.Bytes()
	fail := func(why string) {
		t.Helper()
		t.Fatalf("%s\nrequest: %s\nresponse: HTTP %d %q\n%s", why, sent, rec.Code, rec.Header().Get("Content-Type"), body)
	}
	if rec.Code >= 500 && rec.Code != http.StatusServiceUnavailable {
		fail("server error")
	}
	ct := rec.Header().Get("Content-Type")
	if !strings.HasPrefix(ct, "application/json") && !strings.HasPrefix(ct, "application/graphql-response+json") {
		fail("the response is not JSON")
	}
	var top map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&top); err != nil {
		fail("the body is not a JSON object: " + err.Error())
	}
	var errs []struct {
		Message    string         `json:"message"`
		Extensions map[string]any `json:"extensions"`
	}
	if raw, ok := top["errors"]; ok {
		if err := json.Unmarshal(raw, &errs); err != nil {
			fail("errors is not a list of errors: " + err.Error())
		}
	}
	if _, ok := top["data"]; !ok && len(errs) == 0 {
		fail("neither data nor errors")
	}
	for _, e := range errs {
		code, _ := e.Extensions["code"].(string)
		switch {
		case e.Message == "":
			fail("an error without a message")
		case code == "":
			fail("an error without extensions.code")
		case code == "INTERNAL":
			fail("an INTERNAL error: the server failed on this input (its log has the cause)")
		}
	}
}

func FuzzGraphQLPost(f *testing.F) {
	fs := newFuzzServer(f)
	const ct = "application/json"
	// raw, when not empty, is the whole body; else query and variables are
	// wrapped in {"query": ..., "variables": ...} with variables as raw JSON.
	seeds := []struct {
		mode                     uint8
		contentType, query, vars string
		raw                      string
	}{
		{0, ct, `{ health { status } }`, "", ""},
		{1, ct, `{ viewer { role } accounts(first: 5) { edges { cursor node { id status } } } }`, "", ""},
		{2, ct, `mutation($n: String!) { createAccount(input: {name: $n}) { account { id name } } }`, `{"n": "Sales Berlin"}`, ""},
		// Invisible and bidi characters, invalid UTF-8 in strings (NUL
		// bytes and other content types are in testdata/fuzz).
		{2, ct, `mutation($n: String!) { createAccount(input: {name: $n}) { account { id } } }`, `{"n": "\u202eevil"}`, ""},
		{2, ct, `mutation($n: String!) { createAccount(input: {name: $n}) { account { id } } }`, `{"n": "\u200b\u200b"}`, ""},
		{2, ct, `mutation($n: String!) { createAccount(input: {name: $n}) { account { id } } }`, "{\"n\": \"\xff\xfe\"}", ""},
		{2, ct, `mutation($id: ID!, $n: String) { updateAccount(input: {accountId: $id, name: $n}) { account { name } } }`, `{"id": "$ACCOUNT", "n": "x"}`, ""},
		// Phone numbers for pairing codes.
		{2, ct, `mutation($p: String) { startActivation(input: {accountId: "$ACCOUNT", method: PAIRING_CODE, phoneNumber: $p}) { account { status } } }`, `{"p": "++4915123456789"}`, ""},
		{2, ct, `mutation($p: String) { startActivation(input: {accountId: "$ACCOUNT", method: PAIRING_CODE, phoneNumber: $p}) { account { status } } }`, `{"p": "+1 415 555 0123 ext 5"}`, ""},
		{2, ct, `mutation($p: String) { startActivation(input: {accountId: "$ACCOUNT", method: PAIRING_CODE, phoneNumber: $p}) { account { status } } }`, `{"p": "1-800-FLOWERS"}`, ""},
		{2, ct, `mutation($p: String) { startActivation(input: {accountId: "$ACCOUNT", method: PAIRING_CODE, phoneNumber: $p}) { account { status } } }`, `{"p": "+4915123456789012"}`, ""},
		{2, ct, `mutation($p: String) { startActivation(input: {accountId: "$ACCOUNT", method: PAIRING_CODE, phoneNumber: $p}) { account { status } } }`, `{"p": "+49\u0000151"}`, ""},
		// Cursors, page sizes and huge numbers.
		{1, ct, `query($a: String, $n: Int) { accounts(first: $n, after: $a) { edges { cursor } } }`, `{"a": "YWNjb3VudDo", "n": 3}`, ""},
		{1, ct, `query($a: String) { accounts(after: $a) { edges { cursor } } }`, `{"a": "%%%not-base64"}`, ""},
		{1, ct, `query($a: String) { accounts(after: $a) { edges { cursor } } }`, `{"a": "YWNjb3VudDphAGI"}`, ""}, // "account:a\x00b"
		{1, ct, `query($a: String) { accounts(after: $a) { edges { cursor } } }`, `{"a": "YWNjb3VudDr__g"}`, ""},  // "account:\xff\xfe"
		{1, ct, `query($n: Int) { accounts(first: $n) { totalCount } }`, `{"n": 1e400}`, ""},
		{1, ct, `query($n: Int) { accounts(first: $n) { totalCount } }`, `{"n": 99999999999999999999999}`, ""},
		{1, ct, `{ accounts(first: -1) { totalCount } }`, "", ""},
		{1, ct, `{ account(id: "$ACCOUNT") { statusHistory(first: 2, after: "aGlzdG9yeTotMQ") { totalCount } } }`, "", ""},
		// Exponential fragments (kept small here: the unbounded case is
		// issue 9 defect 1, tested where it is fixed).
		{0, ct, expFragments(8), "", ""},
		// Malformed envelopes, variables and content types.
		{1, ct, "", "", `{"query": `},
		{1, ct, "", "", `[{"query": "{ health { status } }"}]`},
		{1, ct, "", "", `{"query": 5}`},
		{1, ct, "", "", `null`},
		{1, ct, `{ health { status } }`, `"not an object"`, ""},
		{1, ct, `{ health { status } }`, `[1,2]`, ""},
		{1, ct, `query($x: Int!) { health { status } }`, `{}`, ""},
		{1, ct, "", "", "\xff\xfe{\"query\":\"{ health { status } }\"}"},
	}
	for _, s := range seeds {
		f.Add(s.mode, s.contentType, s.query, s.vars, []byte(s.raw))
	}
	f.Fuzz(func(t *testing.T, mode uint8, contentType, query, variables string, raw []byte) {
		body := raw
		if len(body) == 0 {
			q, _ := json.Marshal(fs.fill(query))
			body = []byte(`{"query":` + string(q))
			if variables != "" {
				body = append(body, `,"variables":`+fs.fill(variables)...)
			}
			body = append(body, '}')
		}
		req := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(body))
		req.Header.Set("Content-Type", contentType)
		rec := fs.serve(req, mode)
		checkGraphQLResponse(t, rec, "POST "+contentType+" "+string(body))
	})
}

func FuzzGraphQLGet(f *testing.F) {
	fs := newFuzzServer(f)
	seeds := []struct {
		mode                                     uint8
		query, variables, operationName, rawExtn string
	}{
		{0, `{ health { status } }`, "", "", ""},
		{1, `query Q($n: Int) { accounts(first: $n) { totalCount } }`, `{"n": 2}`, "Q", ""},
		{1, `{ account(id: "$ACCOUNT") { name } }`, "", "", ""},
		{1, `{ health { status } }`, "", "", `{"persistedQuery":{"version":1,"sha256Hash":"00"}}`},
		{1, `query A { health { status } } query B { viewer { role } }`, "", "C", ""},
		{1, "{ account(id: \"a\x00b\") { name } }", "", "", ""},
		{1, `query($a: String) { accounts(after: $a) { totalCount } }`, "{\"a\": \"\xff\"}", "", ""},
		{1, "", "", "", ""},
		{0, expFragments(8), "", "", ""},
	}
	for _, s := range seeds {
		f.Add(s.mode, s.query, s.variables, s.operationName, s.rawExtn)
	}
	f.Fuzz(func(t *testing.T, mode uint8, query, variables, operationName, extensions string) {
		v := url.Values{}
		for k, val := range map[string]string{"query": fs.fill(query), "variables": fs.fill(variables), "operationName": operationName, "extensions": extensions} {
			if val != "" {
				v.Set(k, val)
			}
		}
		target := "/graphql?" + v.Encode()
		req := httptest.NewRequest(http.MethodGet, target, nil)
		rec := fs.serve(req, mode)
		checkGraphQLResponse(t, rec, "GET "+target)
	})
}

// expFragments is a document whose fragments each spread the next one
// twice: n fragments expand to 2^n selections.
func expFragments(n int) string {
	var b strings.Builder
	b.WriteString("query { ...F0 }\n")
	for i := range n {
		b.WriteString("fragment F" + strconv.Itoa(i) + " on Query { ...F" + strconv.Itoa(i+1) + " ...F" + strconv.Itoa(i+1) + " }\n")
	}
	b.WriteString("fragment F" + strconv.Itoa(n) + " on Query { health { status } }\n")
	return b.String()
}
