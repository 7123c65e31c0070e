package graph_test

import (
	"strings"
	"testing"

	"github.com/99designs/gqlgen/client"

	"wagraph/internal/apperr"
	"wagraph/internal/apptest"
	"wagraph/internal/auth"
	"wagraph/internal/store"
	"wagraph/internal/store/storetest"
)

// TestNULInStringInput: a NUL character in any string, in variables or in the
// query's own arguments, is INVALID_INPUT naming the field. Postgres cannot
// store it, and the client used to see INTERNAL.
func TestNULInStringInput(t *testing.T) {
	s := apptest.Start(t, apptest.Env{"DATABASE_URL": storetest.URL(t, store.Postgres)})
	c := s.Client(apptest.Bearer(s.Token(t, auth.Admin)))
	const withVariables = `mutation($name: String!) { createAccount(input: {name: $name}) { account { id } } }`
	tests := []struct {
		name, query string
		opts        []client.Option
		field       string
	}{
		{"variable", withVariables, []client.Option{client.Var("name", "shop\x00front")}, "name"},
		{"input object variable", `mutation($in: CreateAccountInput!) { createAccount(input: $in) { account { id } } }`,
			[]client.Option{client.Var("in", map[string]any{"name": "\x00"})}, "in.name"},
		{"literal", `mutation { createAccount(input: {name: "shop\u0000front"}) { account { id } } }`, nil, "createAccount.input.name"},
		{"token name", `mutation { createApiToken(input: {name: "ci\u0000", role: VIEWER}) { token } }`, nil, "createApiToken.input.name"},
		{"query argument in a fragment", `query { ...F } fragment F on Query { account(id: "a\u0000") { id } }`, nil, "account.id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := apptest.Post(t, c, tt.query, tt.opts...)
			e := r.Only(t)
			if e.Code() != string(apperr.InvalidInput) || e.Extensions["field"] != tt.field ||
				!strings.Contains(e.Message, "NUL") || e.Suggestion() == "" {
				t.Errorf("%+v, want INVALID_INPUT for field %s with a suggestion", e, tt.field)
			}
		})
	}
	// Nothing was written, and ordinary text still is.
	data := apptest.Post(t, c, withVariables, client.Var("name", "shop front")).NoErrors(t)
	if apptest.Path(data, "createAccount", "account", "id") == nil {
		t.Errorf("createAccount = %v", data)
	}
}
