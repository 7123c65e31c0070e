package graph_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/client"

	"wagraph/internal/apperr"
	"wagraph/internal/apptest"
	"wagraph/internal/auth"
)

// introspectionQuery is the query GraphiQL (graphql-js getIntrospectionQuery)
// sends to load the docs: the largest document a real client sends.
const introspectionQuery = `query IntrospectionQuery {
  __schema {
    queryType { name } mutationType { name } subscriptionType { name }
    types { ...FullType }
    directives { name description locations args { ...InputValue } }
  }
}
fragment FullType on __Type {
  kind name description
  fields(includeDeprecated: true) { name description args { ...InputValue } type { ...TypeRef } isDeprecated deprecationReason }
  inputFields { ...InputValue }
  interfaces { ...TypeRef }
  enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
  possibleTypes { ...TypeRef }
}
fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue }
fragment TypeRef on __Type {
  kind name
  ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name
    ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } } } }
}`

// TestDocumentGuard sends documents whose validation or complexity
// calculation would cost exponential or quadratic work. Before the guard,
// the first one kept a core busy for minutes; now each is refused with
// QUERY_TOO_COMPLEX and a message that says which limit it hit, with or
// without a token, while the documents real clients send still run.
func TestDocumentGuard(t *testing.T) {
	s := apptest.Start(t, nil)
	viewer := s.Client(apptest.Bearer(s.Token(t, auth.Viewer)))
	anonymous := s.Client()

	refused := []struct {
		name, query, msg string
	}{
		{"fragments that spread the next one twice", fragmentChain(40, "Query", "{ ...F0 }", "...NEXT ...NEXT", "viewer { role }"),
			"expands to more than 10000 selections"},
		{"aliased doubling through introspection", fragmentChain(30, "__Type", `{ __type(name: "Query") { ...F0 } }`,
			"a: ofType { ...NEXT } b: ofType { ...NEXT }", "name"), "expands to more than 10000 selections"},
		{"an unused fragment bomb", fragmentChain(40, "Query", "{ health { status } }", "...NEXT ...NEXT", "health { status }"),
			"expands to more than 10000 selections"},
		{"fields nested 100 deep", `{ __type(name: "Query") { ` + strings.Repeat("ofType { ", 100) + "name" + strings.Repeat(" }", 100) + " } }",
			"more than 64 levels deep"},
		{"fragments nested 100 deep", fragmentChain(100, "Query", "{ ...F0 }", "...NEXT", "health { status }"),
			"more than 64 levels deep"},
		{"one field repeated 200 times", "{" + strings.Repeat(" health { status }", 200) + " }",
			"pairs of fields share a response name"},
		{"200 fragments spread side by side", func() string {
			var b strings.Builder
			b.WriteString("{")
			for i := range 200 {
				b.WriteString(fmt.Sprintf(" ...F%d", i))
			}
			b.WriteString(" }")
			for i := range 200 {
				b.WriteString(fmt.Sprintf(" fragment F%d on Query { a%d: health { status } }", i, i))
			}
			return b.String()
		}(), "of fragments are spread side by side"},
		{"a field with 50 directives", "{ health" + strings.Repeat(" @include(if: true)", 50) + " { status } }",
			"puts 50 directives on one field"},
		{"one alias with 200 different arguments", func() string {
			var b strings.Builder
			b.WriteString("{")
			for i := range 200 {
				b.WriteString(` t: __type(name: "T` + strings.Repeat("x", i) + `") { name }`)
			}
			return b.String() + " }"
		}(), "pairs of fields share a response name"},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			for who, c := range map[string]*client.Client{"anonymous": anonymous, "viewer": viewer} {
				r := apptest.Post(t, c, tt.query)
				e := r.Only(t)
				if e.Code() != string(apperr.QueryTooComplex) || !strings.Contains(e.Message, tt.msg) ||
					e.Suggestion() == "" || e.Suggestion() == apperr.Suggestion(apperr.QueryTooComplex) {
					t.Errorf("%s: %+v, want QUERY_TOO_COMPLEX saying %q with a specific suggestion", who, e, tt.msg)
				}
				if r.Data != nil {
					t.Errorf("%s: refused document returned data %v", who, r.Data)
				}
			}
		})
	}

	allowed := []string{
		introspectionQuery,
		`query { ...A ...B } fragment A on Query { health { status } viewer { role } } fragment B on Query { health { status version } viewer { role } }`,
		"{" + strings.Repeat(" health { status }", 20) + " }",
		`query { health @include(if: true) @skip(if: false) { status } }`,
	}
	for _, q := range allowed {
		apptest.Post(t, viewer, q).NoErrors(t)
	}
}

// The guard stands in front of websocket operations too.
func TestDocumentGuardOverWebsocket(t *testing.T) {
	s := apptest.Start(t, nil)
	for _, proto := range []string{apptest.TransportWS, apptest.LegacyWS} {
		t.Run(proto, func(t *testing.T) {
			live := openLive(t, s, proto, s.Token(t, auth.Viewer))
			live.subscribe("bomb", fragmentChain(40, "Query", "{ ...F0 }", "...NEXT ...NEXT", "viewer { role }"), nil)
			e := live.refused("bomb")
			if e.Code() != string(apperr.QueryTooComplex) || !strings.Contains(e.Message, "expands to more than") {
				t.Errorf("fragment bomb over %s: %+v, want QUERY_TOO_COMPLEX", proto, e)
			}
			live.subscribe("fine", `{ viewer { role } }`, nil)
			if data := live.next("fine"); apptest.Path(data, "viewer", "role") != "VIEWER" {
				t.Errorf("after the refusal: %v", data)
			}
		})
	}
}
