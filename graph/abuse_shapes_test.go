package graph_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"
)

// attackShape builds a hostile GraphQL request of a given size n: the
// benchmarks and tests grow n until the request is the largest that the
// server's body and parser-token limits still let through.
type attackShape struct {
	name string
	// body returns the request for size n.
	body func(n int) attackRequest
}

// attackRequest is one request of an attack shape.
type attackRequest struct {
	query, operationName string
	// variables is raw JSON, or empty for none.
	variables string
}

// nonce ends every query with a comment that benchmarks overwrite with a
// counter of the same width, so no request is answered from the parsed-query
// cache.
const nonce = "\n#nonce-000000000000"

// JSON returns the request body.
func (r attackRequest) JSON() []byte {
	q, err := json.Marshal(r.query + nonce)
	if err != nil {
		panic(err)
	}
	body := `{"query":` + string(q)
	if r.operationName != "" {
		body += `,"operationName":"` + r.operationName + `"`
	}
	if r.variables != "" {
		body += `,"variables":` + r.variables
	}
	return []byte(body + "}")
}

func gqlBody(query, operationName string, variables any) attackRequest {
	r := attackRequest{query: query, operationName: operationName}
	if variables != nil {
		b, err := json.Marshal(variables)
		if err != nil {
			panic(err)
		}
		r.variables = string(b)
	}
	return r
}

// fragmentChain spreads fragment i+1 twice (or more) from fragment i, so the
// document grows linearly while its expansion doubles with every fragment.
func fragmentChain(n int, typ, entry, step, leaf string) string {
	var b strings.Builder
	b.WriteString(entry)
	for i := range n {
		fmt.Fprintf(&b, " fragment F%d on %s { %s }", i, typ, strings.ReplaceAll(step, "NEXT", fmt.Sprintf("F%d", i+1)))
	}
	fmt.Fprintf(&b, " fragment F%d on %s { %s }", n, typ, leaf)
	return b.String()
}

var attackShapes = []attackShape{
	{"fragment-doubling/public", func(n int) attackRequest {
		return gqlBody(fragmentChain(n, "Query", "{ ...F0 }", "...NEXT ...NEXT", "health { status }"), "", nil)
	}},
	{"fragment-doubling/private", func(n int) attackRequest {
		return gqlBody(fragmentChain(n, "Query", "{ ...F0 }", "...NEXT ...NEXT", "viewer { role }"), "", nil)
	}},
	{"fragment-doubling/aliased", func(n int) attackRequest {
		// Different aliases cannot be merged, and ofType nests without limit.
		return gqlBody(fragmentChain(n, "__Type", `{ __type(name: "Query") { ...F0 } }`,
			"a: ofType { ...NEXT } b: ofType { ...NEXT }", "name"), "", nil)
	}},
	{"fragment-dense", func(n int) attackRequest {
		// Every fragment spreads every later one: 2^n paths.
		var b strings.Builder
		b.WriteString("{ ...F0 }")
		for i := range n {
			fmt.Fprintf(&b, " fragment F%d on Query { health { status }", i)
			for j := i + 1; j < n; j++ {
				fmt.Fprintf(&b, " ...F%d", j)
			}
			b.WriteString(" }")
		}
		return gqlBody(b.String(), "", nil)
	}},
	{"fragment-siblings", func(n int) attackRequest {
		// Many fragments spread side by side: the overlapping-fields rule
		// compares every pair of them, though no two share a field.
		var b strings.Builder
		b.WriteString("{")
		for i := range n {
			fmt.Fprintf(&b, " ...F%d", i)
		}
		b.WriteString(" }")
		for i := range n {
			fmt.Fprintf(&b, " fragment F%d on Query { a%d: health { status } }", i, i)
		}
		return gqlBody(b.String(), "", nil)
	}},
	{"inline-fragment-siblings", func(n int) attackRequest {
		var b strings.Builder
		b.WriteString("{")
		for i := range n {
			fmt.Fprintf(&b, " ... on Query { a%d: health { status } }", i)
		}
		b.WriteString(" }")
		return gqlBody(b.String(), "", nil)
	}},
	{"deep-nesting/inline-fragments", func(n int) attackRequest {
		return gqlBody("{ "+strings.Repeat("... on Query { ", n)+"health { status }"+strings.Repeat(" }", n)+" }", "", nil)
	}},
	{"deep-nesting/fields", func(n int) attackRequest {
		return gqlBody(`{ __type(name: "Query") { `+strings.Repeat("ofType { ", n)+"name"+strings.Repeat(" }", n)+" } }", "", nil)
	}},
	{"wide/aliases", func(n int) attackRequest {
		var b strings.Builder
		b.WriteString("{")
		for i := range n {
			fmt.Fprintf(&b, " a%d: health { status }", i)
		}
		b.WriteString(" }")
		return gqlBody(b.String(), "", nil)
	}},
	{"wide/same-field", func(n int) attackRequest {
		// Fields with one response name are compared pairwise by the
		// overlapping-fields rule.
		return gqlBody("{"+strings.Repeat(" health { status }", n)+" }", "", nil)
	}},
	{"wide/same-field-distinct-args", func(n int) attackRequest {
		var b strings.Builder
		b.WriteString("{")
		for i := range n {
			fmt.Fprintf(&b, ` t: __type(name: "T%d") { name }`, i)
		}
		b.WriteString(" }")
		return gqlBody(b.String(), "", nil)
	}},
	{"many-operations", func(n int) attackRequest {
		var b strings.Builder
		for i := range n {
			fmt.Fprintf(&b, "query Q%d { health { status } } ", i)
		}
		return gqlBody(b.String(), "Q0", nil)
	}},
	{"many-errors", func(n int) attackRequest {
		var b strings.Builder
		b.WriteString("{")
		for i := range n {
			fmt.Fprintf(&b, " a%d: healht%d", i, i)
		}
		b.WriteString(" }")
		return gqlBody(b.String(), "", nil)
	}},
	{"directives", func(n int) attackRequest {
		return gqlBody("{ health"+strings.Repeat(" @include(if: true)", n)+" { status } }", "", nil)
	}},
	{"variables/long-string", func(n int) attackRequest {
		return gqlBody(`query($n: String!) { __type(name: $n) { name } }`, "", map[string]any{"n": strings.Repeat("x", n*64)})
	}},
	{"variables/wide-object", func(n int) attackRequest {
		v := make(map[string]any, n)
		for i := range n {
			v[fmt.Sprintf("k%d", i)] = i
		}
		return gqlBody(`query($v: CreateApiTokenInput) { health { status } }`, "", map[string]any{"v": v})
	}},
	{"variables/deep-list", func(n int) attackRequest {
		return attackRequest{query: "query($s: [AccountStatus!]) { health { status } }",
			variables: `{"s":` + strings.Repeat("[", n) + strings.Repeat("]", n) + `}`}
	}},
	{"variables/long-list", func(n int) attackRequest {
		return attackRequest{query: "query($s: [AccountStatus!]) { health { status } }",
			variables: `{"s":["ACTIVE"` + strings.Repeat(`,"ACTIVE"`, n) + `]}`}
	}},
	{"variables/many-numbers", func(n int) attackRequest {
		return attackRequest{query: "query($s: [AccountStatus!]) { health { status } }",
			variables: `{"x":[0` + strings.Repeat(`,0`, n) + `]}`}
	}},
	{"variables/most-values-used", func(n int) attackRequest {
		// As many values as the JSON limit allows, all coerced and passed
		// to a resolver that filters the accounts by them.
		n = min(n, 24_990)
		return attackRequest{query: "query($s: [AccountStatus!]) { accounts(status: $s) { edges { cursor } } }",
			variables: `{"s":["AWAITING_SCAN"` + strings.Repeat(`,"AWAITING_SCAN"`, n) + `]}`}
	}},
	{"variables/most-values-unused", func(n int) attackRequest {
		n = min(n, 24_990)
		return attackRequest{query: "{ health { status } }",
			variables: `{"x":["` + strings.Repeat("x", 16) + `"` + strings.Repeat(`,"`+strings.Repeat("x", 16)+`"`, n) + `]}`}
	}},
	{"variables/many-declared", func(n int) attackRequest {
		var decl, use strings.Builder
		vars := map[string]any{}
		for i := range n {
			fmt.Fprintf(&decl, " $v%d: String", i)
			fmt.Fprintf(&use, ` t%d: __type(name: $v%d) { name }`, i, i)
			vars[fmt.Sprintf("v%d", i)] = "Query"
		}
		return gqlBody("query("+decl.String()+") {"+use.String()+" }", "", vars)
	}},
	{"long-string-literal", func(n int) attackRequest {
		return gqlBody(`{ __type(name: "`+strings.Repeat("x", n*64)+`") { name } }`, "", nil)
	}},
}

// fits reports whether body is within maxBytes and its query within the
// parser's token limit (0: none).
func fits(req attackRequest, maxBytes, tokenLimit int) bool {
	if len(req.JSON()) > maxBytes {
		return false
	}
	_, err := parser.ParseQueryWithTokenLimit(&ast.Source{Input: req.query + nonce}, tokenLimit)
	return err == nil
}

// largest returns the largest request of shape that still fits.
func largest(t testing.TB, shape attackShape, maxBytes, tokenLimit int) attackRequest {
	t.Helper()
	lo, hi := 1, 1
	for fits(shape.body(hi), maxBytes, tokenLimit) {
		lo, hi = hi, hi*2
		if hi > 1<<24 { // the shape caps its own size
			return shape.body(lo)
		}
	}
	if !fits(shape.body(lo), maxBytes, tokenLimit) {
		t.Fatalf("%s: even the smallest request does not fit", shape.name)
	}
	for hi-lo > 1 { // fits(lo) and !fits(hi)
		mid := (lo + hi) / 2
		if fits(shape.body(mid), maxBytes, tokenLimit) {
			lo = mid
		} else {
			hi = mid
		}
	}
	return shape.body(lo)
}
