package graph_test

// End-to-end tests of the GraphQL API through the real handler: app.New
// served by httptest, driven by gqlgen's client over HTTP.

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/client"

	"wagraph/internal/apperr"
	"wagraph/internal/apptest"
	"wagraph/internal/auth"
)

const acceptanceQuery = `{ health { status components { name status } } viewer { role } }`

func TestAcceptanceQuery(t *testing.T) {
	s := apptest.Start(t, nil)
	admin := s.Token(t, auth.Admin)
	viewer := s.Token(t, auth.Viewer)
	revoked, revokedSecret, err := s.App.Auth.Create(t.Context(), "gone", auth.Operator)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.App.Auth.Revoke(t.Context(), revoked.ID); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name   string
		header string // Authorization; "" sends none
		role   string // answered role, or "" when refused
		msg    string // refusal message fragment
	}{
		{"admin", "Bearer " + admin, "ADMIN", ""},
		{"viewer", "Bearer " + viewer, "VIEWER", ""},
		{"token without Bearer", viewer, "VIEWER", ""},
		{"no token", "", "", "needs an API token"},
		{"malformed token", "Bearer hunter2", "", "malformed"},
		{"unknown token", "Bearer wag_0123456789ab_" + strings.Repeat("0", 64), "", "not valid"},
		{"wrong secret", "Bearer " + flipLast(admin), "", "not valid"},
		{"revoked token", "Bearer " + revokedSecret, "", "revoked"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := s.Client()
			if tt.header != "" {
				c = s.Client(client.AddHeader("Authorization", tt.header))
			}
			r := apptest.Post(t, c, acceptanceQuery)
			if tt.role != "" {
				data := r.NoErrors(t)
				if got := apptest.Path(data, "viewer", "role"); got != tt.role {
					t.Errorf("viewer.role = %v, want %s", got, tt.role)
				}
				if got := apptest.Path(data, "health", "status"); got != "UP" {
					t.Errorf("health.status = %v", got)
				}
				comps, _ := apptest.Path(data, "health", "components").([]any)
				var names []string
				for _, c := range comps {
					names = append(names, apptest.Path(c, "name").(string))
					if st := apptest.Path(c, "status"); st != "UP" {
						t.Errorf("component %v", c)
					}
				}
				if strings.Join(names, ",") != "database,migrations" {
					t.Errorf("components %v, want database and migrations", names)
				}
				return
			}
			e := r.Only(t)
			if e.Code() != string(apperr.Unauthenticated) || !strings.Contains(e.Message, tt.msg) {
				t.Errorf("error %q code %s, want UNAUTHENTICATED saying %q", e.Message, e.Code(), tt.msg)
			}
			if e.Suggestion() == "" || e.Extensions["retryable"] != false {
				t.Errorf("extensions %v: want a suggestion and retryable=false", e.Extensions)
			}
			if r.Data != nil {
				t.Errorf("refused operation returned data %v", r.Data)
			}
		})
	}
}

func TestHealthNeedsNoToken(t *testing.T) {
	s := apptest.Start(t, nil)
	for _, q := range []string{
		`{ health { status version uptimeSeconds components { name status error latencyMs } } }`,
		`{ __typename health { status } }`,
		`query Monitor { h: health { status } }`,
	} {
		t.Run(q, func(t *testing.T) {
			data := apptest.Post(t, s.Client(), q).NoErrors(t)
			h, _ := data["health"].(map[string]any)
			if h == nil {
				h, _ = data["h"].(map[string]any)
			}
			if h["status"] != "UP" {
				t.Errorf("health = %v", data)
			}
		})
	}
	// A bad token does not stop the public query either.
	data := apptest.Post(t, s.Client(apptest.Bearer("junk")), `{ health { status } }`).NoErrors(t)
	if apptest.Path(data, "health", "status") != "UP" {
		t.Errorf("health with a bad token = %v", data)
	}
}

func TestViewerDetails(t *testing.T) {
	s := apptest.Start(t, nil)
	tok, secret, err := s.App.Auth.Create(t.Context(), "admin-app", auth.Operator)
	if err != nil {
		t.Fatal(err)
	}
	data := apptest.Post(t, s.Client(apptest.Bearer(secret)), `{ viewer { role tokenId tokenName authEnabled } }`).NoErrors(t)
	want := map[string]any{"role": "OPERATOR", "tokenId": tok.ID, "tokenName": "admin-app", "authEnabled": true}
	for k, v := range want {
		if got := apptest.Path(data, "viewer", k); got != v {
			t.Errorf("viewer.%s = %v, want %v", k, got, v)
		}
	}
}

func TestAuthDisabledTreatsEveryoneAsAdmin(t *testing.T) {
	s := apptest.Start(t, apptest.Env{"AUTH_DISABLED": "true"})
	data := apptest.Post(t, s.Client(), `{ viewer { role authEnabled tokenId } apiTokens { id } }`).NoErrors(t)
	if apptest.Path(data, "viewer", "role") != "ADMIN" || apptest.Path(data, "viewer", "authEnabled") != false {
		t.Errorf("viewer = %v, want ADMIN with auth disabled", data["viewer"])
	}
}

func TestRolesAndTokenMutations(t *testing.T) {
	s := apptest.Start(t, nil)
	tokens := map[auth.Role]string{}
	for _, r := range []auth.Role{auth.Viewer, auth.Operator, auth.Admin} {
		tokens[r] = s.Token(t, r)
	}
	const create = `mutation($name: String!, $role: Role!) {
		createApiToken(input: {name: $name, role: $role}) { token apiToken { id name role createdAt lastUsedAt revokedAt } }
	}`

	t.Run("only ADMIN creates tokens", func(t *testing.T) {
		for _, role := range []auth.Role{auth.Viewer, auth.Operator} {
			r := apptest.Post(t, s.Client(apptest.Bearer(tokens[role])), create, client.Var("name", "x"), client.Var("role", "VIEWER"))
			e := r.Only(t)
			if e.Code() != string(apperr.Forbidden) || !strings.Contains(e.Message, "needs the ADMIN role; your token has "+string(role)) {
				t.Errorf("%s: error %q (%s), want FORBIDDEN naming both roles", role, e.Message, e.Code())
			}
			if e.Suggestion() == "" || len(e.Path) != 1 || e.Path[0] != "createApiToken" {
				t.Errorf("%s: extensions %v path %v", role, e.Extensions, e.Path)
			}
		}
	})

	t.Run("only ADMIN lists tokens", func(t *testing.T) {
		r := apptest.Post(t, s.Client(apptest.Bearer(tokens[auth.Operator])), `{ apiTokens { id } }`)
		if e := r.Only(t); e.Code() != string(apperr.Forbidden) {
			t.Errorf("OPERATOR apiTokens: %+v", e)
		}
		data := apptest.Post(t, s.Client(apptest.Bearer(tokens[auth.Admin])), `{ apiTokens { id name role } }`).NoErrors(t)
		if list, _ := data["apiTokens"].([]any); len(list) != 3 {
			t.Errorf("apiTokens = %v, want the 3 tokens", data["apiTokens"])
		}
	})

	adminClient := s.Client(apptest.Bearer(tokens[auth.Admin]))
	data := apptest.Post(t, adminClient, create, client.Var("name", "ci-bot"), client.Var("role", "OPERATOR")).NoErrors(t)
	secret, _ := apptest.Path(data, "createApiToken", "token").(string)
	id, _ := apptest.Path(data, "createApiToken", "apiToken", "id").(string)
	if !strings.HasPrefix(secret, "wag_"+id+"_") {
		t.Fatalf("created token %q does not match id %q", secret, id)
	}
	if got := apptest.Path(data, "createApiToken", "apiToken"); apptest.Path(got, "role") != "OPERATOR" ||
		apptest.Path(got, "name") != "ci-bot" || apptest.Path(got, "revokedAt") != nil || apptest.Path(got, "createdAt") == "" {
		t.Errorf("apiToken = %v", got)
	}
	newClient := s.Client(apptest.Bearer(secret))
	if role := apptest.Path(apptest.Post(t, newClient, `{ viewer { role } }`).NoErrors(t), "viewer", "role"); role != "OPERATOR" {
		t.Fatalf("new token authenticates as %v", role)
	}

	t.Run("listing never shows secrets", func(t *testing.T) {
		data := apptest.Post(t, adminClient, `{ apiTokens { id name role lastUsedAt } }`).NoErrors(t)
		var found bool
		for _, tok := range data["apiTokens"].([]any) {
			if apptest.Path(tok, "id") == id {
				found = true
				if apptest.Path(tok, "lastUsedAt") == nil {
					t.Error("lastUsedAt not recorded after the token was used")
				}
			}
		}
		if !found {
			t.Errorf("new token %s not listed", id)
		}
		r := apptest.Post(t, adminClient, `{ apiTokens { secret } }`)
		if e := r.Only(t); e.Code() != "GRAPHQL_VALIDATION_FAILED" || e.Suggestion() == "" || r.Status != 0 {
			t.Errorf("asking for a secret: HTTP %d %+v, want 200 with GRAPHQL_VALIDATION_FAILED", r.Status, e)
		}
	})

	t.Run("bad input is named", func(t *testing.T) {
		e := apptest.Post(t, adminClient, create, client.Var("name", "  "), client.Var("role", "VIEWER")).Only(t)
		if e.Code() != string(apperr.InvalidInput) || e.Extensions["field"] != "name" || e.Suggestion() == "" {
			t.Errorf("empty name: %+v", e)
		}
		r := apptest.Post(t, adminClient, create, client.Var("name", "x"), client.Var("role", "ROOT"))
		if e := r.Only(t); e.Code() != "GRAPHQL_VALIDATION_FAILED" || !strings.Contains(e.Message, "ROOT") {
			t.Errorf("unknown role: %+v", e)
		}
	})

	const revoke = `mutation($id: ID!) { revokeApiToken(input: {id: $id}) { apiToken { id revokedAt } } }`
	t.Run("only ADMIN revokes", func(t *testing.T) {
		if e := apptest.Post(t, newClient, revoke, client.Var("id", id)).Only(t); e.Code() != string(apperr.Forbidden) {
			t.Errorf("OPERATOR revoking: %+v", e)
		}
	})
	t.Run("revoke unknown id", func(t *testing.T) {
		e := apptest.Post(t, adminClient, revoke, client.Var("id", "nope")).Only(t)
		if e.Code() != string(apperr.NotFound) || !strings.Contains(e.Message, "nope") {
			t.Errorf("unknown id: %+v", e)
		}
	})
	data = apptest.Post(t, adminClient, revoke, client.Var("id", id)).NoErrors(t)
	if apptest.Path(data, "revokeApiToken", "apiToken", "revokedAt") == nil {
		t.Errorf("revokeApiToken = %v, want revokedAt set", data)
	}
	e := apptest.Post(t, newClient, `{ viewer { role } }`).Only(t)
	if e.Code() != string(apperr.Unauthenticated) || !strings.Contains(e.Message, "revoked") || e.Suggestion() == "" {
		t.Errorf("revoked token: %+v", e)
	}
}

func TestComplexityLimit(t *testing.T) {
	s := apptest.Start(t, apptest.Env{"GRAPHQL_COMPLEXITY_LIMIT": "5"})
	c := s.Client(apptest.Bearer(s.Token(t, auth.Viewer)))
	apptest.Post(t, c, `{ viewer { role tokenName } }`).NoErrors(t)
	r := apptest.Post(t, c, `{ a: viewer { role tokenName } b: viewer { role tokenName } }`)
	e := r.Only(t)
	if e.Code() != "QUERY_TOO_COMPLEX" || !strings.Contains(e.Message, "exceeds the limit of 5") {
		t.Errorf("error %+v, want QUERY_TOO_COMPLEX", e)
	}
	if e.Suggestion() != apperr.Suggestion(apperr.QueryTooComplex) {
		t.Errorf("suggestion %q", e.Suggestion())
	}
	if r.Data != nil {
		t.Errorf("too complex query returned data %v", r.Data)
	}
}

func TestParserTokenLimit(t *testing.T) {
	s := apptest.Start(t, apptest.Env{"GRAPHQL_TOKEN_LIMIT": "20"})
	c := s.Client(apptest.Bearer(s.Token(t, auth.Viewer)))
	apptest.Post(t, c, `{ viewer { role } }`).NoErrors(t)
	r := apptest.Post(t, c, `{ `+strings.Repeat("viewer { role } ", 10)+`}`)
	e := r.Only(t)
	if e.Code() != "GRAPHQL_PARSE_FAILED" || !strings.Contains(e.Message, "token limit of 20") || e.Suggestion() == "" {
		t.Errorf("error %+v, want GRAPHQL_PARSE_FAILED at the token limit", e)
	}
	if r.Status != 0 { // application/json: a GraphQL error, answered with 200
		t.Errorf("status %d, want 200", r.Status)
	}
}

func TestSyntaxErrors(t *testing.T) {
	s := apptest.Start(t, nil)
	c := s.Client(apptest.Bearer(s.Token(t, auth.Viewer)))
	for q, code := range map[string]string{
		`{ viewer `:           "GRAPHQL_PARSE_FAILED",
		`{ nope }`:            "GRAPHQL_VALIDATION_FAILED",
		`{ viewer { nope } }`: "GRAPHQL_VALIDATION_FAILED",
	} {
		e := apptest.Post(t, c, q).Only(t)
		if e.Code() != code || e.Suggestion() == "" || e.Extensions["retryable"] != false {
			t.Errorf("%q: %+v, want %s with a suggestion", q, e, code)
		}
	}
}

func TestIntrospection(t *testing.T) {
	const q = `{ __schema { queryType { name } } }`
	t.Run("on", func(t *testing.T) {
		s := apptest.Start(t, nil)
		data := apptest.Post(t, s.Client(apptest.Bearer(s.Token(t, auth.Viewer))), q).NoErrors(t)
		if apptest.Path(data, "__schema", "queryType", "name") != "Query" {
			t.Errorf("__schema = %v", data)
		}
	})
	t.Run("off", func(t *testing.T) {
		s := apptest.Start(t, apptest.Env{"GRAPHQL_INTROSPECTION": "false"})
		c := s.Client(apptest.Bearer(s.Token(t, auth.Viewer)))
		for _, q := range []string{q, `{ __type(name: "Query") { name } }`} {
			e := apptest.Post(t, c, q).Only(t)
			if e.Code() != string(apperr.Forbidden) || !strings.Contains(e.Message, "introspection is disabled") ||
				!strings.Contains(e.Suggestion(), "GRAPHQL_INTROSPECTION") {
				t.Errorf("%s: %+v, want FORBIDDEN saying introspection is off", q, e)
			}
		}
		if strings.Contains(s.Logs.String(), `"level":"error"`) {
			t.Errorf("a refused introspection query was logged as an internal error:\n%s", s.Logs.String())
		}
		// Plain queries still work.
		apptest.Post(t, c, `{ viewer { role } }`).NoErrors(t)
	})
}

func TestGETTransport(t *testing.T) {
	s := apptest.Start(t, nil)
	tok := s.Token(t, auth.Admin)
	get := func(query string, header ...string) (int, string) {
		t.Helper()
		resp, body := s.Get(t, "/graphql?query="+url.QueryEscape(query), header...)
		return resp.StatusCode, string(body)
	}
	if code, body := get(`{ viewer { role } }`, "Authorization", "Bearer "+tok); code != http.StatusOK || !strings.Contains(body, `"role":"ADMIN"`) {
		t.Errorf("GET query: %d %s", code, body)
	}
	if code, body := get(`{ viewer { role } }`); !strings.Contains(body, `"UNAUTHENTICATED"`) {
		t.Errorf("GET without a token: %d %s", code, body)
	}
	code, body := get(`mutation { createApiToken(input: {name: "x", role: ADMIN}) { token } }`, "Authorization", "Bearer "+tok)
	if code != http.StatusMethodNotAllowed || strings.Contains(body, "wag_") || !strings.Contains(body, `"BAD_REQUEST"`) {
		t.Errorf("GET mutation: %d %s, want 405 BAD_REQUEST and no token created", code, body)
	}
	if list, _ := s.App.Auth.List(t.Context()); len(list) != 1 {
		t.Errorf("%d tokens after a GET mutation, want 1", len(list))
	}
}

// flipLast changes the last hex digit of a token: same id, wrong secret.
func flipLast(token string) string {
	last := "0"
	if strings.HasSuffix(token, "0") {
		last = "1"
	}
	return token[:len(token)-1] + last
}
