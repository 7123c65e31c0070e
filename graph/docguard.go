package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/parser"

	"wagraph/internal/apperr"
)

// DocumentLimits bound the work one query document can cause before anyone
// has looked at its token. gqlparser's validation rules and gqlgen's
// complexity calculation walk a document with its fragments expanded, and
// compare fields that share a response name pairwise: a kilobyte of
// fragments that each spread the next one twice costs 2^n, and a thousand
// copies of one field cost a million comparisons. The guard measures those
// quantities with memoised walks that cost no more than reading the
// document, and refuses it before any of that work starts.
type DocumentLimits struct {
	// MaxSelections caps the selections of the whole document counted the
	// way the validator and the complexity calculation walk them: every
	// operation and every fragment definition, with each fragment spread
	// expanded every time it appears.
	MaxSelections int
	// MaxDepth caps how deeply selection sets nest, in the text (braces) and
	// through fragments.
	MaxDepth int
	// MaxFieldPairs caps the pairs of fields that share a response path
	// (the same alias or name under the same parent), and of fragments
	// spread into one selection set, which the overlapping-fields rule
	// compares one with another.
	MaxFieldPairs int
	// MaxDirectivesPerLocation caps the directives on one field, fragment
	// or operation, which the validator compares one with another.
	MaxDirectivesPerLocation int
}

// DefaultDocumentLimits are generous for real clients (GraphiQL's
// introspection query counts 450 selections, 15 levels and no
// pairs) and keep validating the worst document to a few milliseconds.
func DefaultDocumentLimits(complexityLimit int) DocumentLimits {
	return DocumentLimits{
		// The complexity limit counts each field once, so a document the
		// limit allows stays allowed: operations plus the fragments they
		// spread count it at most about twice.
		MaxSelections: max(10_000, 2*complexityLimit),
		MaxDepth:      64,
		MaxFieldPairs: 10_000,
		// @include, @skip and @defer, with room to spare.
		MaxDirectivesPerLocation: 16,
	}
}

// documentGuard is the gqlgen extension that applies DocumentLimits to the
// raw query, before gqlgen parses, validates and measures it.
type documentGuard struct {
	limits     DocumentLimits
	tokenLimit int
	// validated holds documents that passed validation before: they were
	// checked then and are not parsed again.
	validated graphql.Cache[*ast.QueryDocument]
}

var (
	_ graphql.HandlerExtension          = documentGuard{}
	_ graphql.OperationParameterMutator = documentGuard{}
)

// ExtensionName implements graphql.HandlerExtension.
func (documentGuard) ExtensionName() string { return "wagraphDocumentGuard" }

// Validate implements graphql.HandlerExtension.
func (documentGuard) Validate(graphql.ExecutableSchema) error { return nil }

// MutateOperationParameters implements graphql.OperationParameterMutator.
func (g documentGuard) MutateOperationParameters(ctx context.Context, p *graphql.RawParams) *gqlerror.Error {
	if g.validated != nil {
		if _, ok := g.validated.Get(ctx, p.Query); ok {
			return nil
		}
	}
	if err := g.check(p.Query); err != nil {
		return &gqlerror.Error{Message: err.Message, Err: err}
	}
	return nil
}

// check returns why query is refused, or nil. A query that does not parse
// is left to gqlgen, which reports the syntax error as usual.
func (g documentGuard) check(query string) *apperr.Error {
	if d := braceDepth(query, g.limits.MaxDepth); d > g.limits.MaxDepth {
		return tooDeep(g.limits.MaxDepth)
	}
	doc, err := parser.ParseQueryWithTokenLimit(&ast.Source{Input: query}, g.tokenLimit)
	if err != nil {
		return nil
	}
	if n := mostDirectives(doc); n > g.limits.MaxDirectivesPerLocation {
		return apperr.Newf(apperr.QueryTooComplex, "the query puts %d directives on one field, fragment or operation; the limit is %d", n, g.limits.MaxDirectivesPerLocation).
			WithSuggestion("Use each directive (@include, @skip) once per field or fragment.")
	}
	m := newDocMeasure(doc, g.limits)
	total := 0
	for _, op := range doc.Operations {
		total = capAdd(total, m.selectionSet(op.SelectionSet, 1).selections, g.limits.MaxSelections)
	}
	for _, f := range doc.Fragments {
		total = capAdd(total, m.fragment(f.Name).selections, g.limits.MaxSelections)
	}
	if m.tooDeep {
		return tooDeep(g.limits.MaxDepth)
	}
	if total > g.limits.MaxSelections {
		return apperr.Newf(apperr.QueryTooComplex,
			"the query expands to more than %d selections (each fragment counts every time it is spread)", g.limits.MaxSelections).
			WithSuggestion("Spread each fragment fewer times, or split the query into smaller ones; the limit counts the fields of every operation and fragment with their fragments expanded.")
	}
	// Expanding is now known to be cheap: count the fields that share a
	// response path, per operation and per fragment definition, as the
	// validator compares them.
	pairs := 0
	for _, op := range doc.Operations {
		pairs = capAdd(pairs, m.fieldPairs(op.SelectionSet), g.limits.MaxFieldPairs)
	}
	for _, f := range doc.Fragments {
		pairs = capAdd(pairs, m.fieldPairs(f.SelectionSet), g.limits.MaxFieldPairs)
	}
	if pairs > g.limits.MaxFieldPairs {
		return apperr.Newf(apperr.QueryTooComplex,
			"the query repeats fields or fragments too often: more than %d pairs of fields share a response name under the same parent, or of fragments are spread side by side", g.limits.MaxFieldPairs).
			WithSuggestion("Ask for each field once per parent (or give repeats distinct aliases), and spread fewer fragments into one selection set (merge small ones).")
	}
	return nil
}

func tooDeep(limit int) *apperr.Error {
	return apperr.Newf(apperr.QueryTooComplex, "the query nests selections (or fragments in fragments) more than %d levels deep", limit).
		WithSuggestion("Ask for less deeply nested data, or split the query into smaller ones.")
}

// capAdd adds without passing limit+1, so counts never overflow.
func capAdd(a, b, limit int) int {
	if a+b > limit {
		return limit + 1
	}
	return a + b
}

// braceDepth returns the deepest nesting of braces in a GraphQL document,
// skipping strings, block strings and comments; it stops counting once the
// depth passes limit. It runs before the parser, whose recursion follows the
// nesting.
func braceDepth(q string, limit int) int {
	depth, deepest := 0, 0
	for i := 0; i < len(q); i++ {
		switch q[i] {
		case '{':
			depth++
			if depth > deepest {
				deepest = depth
				if deepest > limit {
					return deepest
				}
			}
		case '}':
			depth = max(depth-1, 0)
		case '#':
			for i < len(q) && q[i] != '\n' && q[i] != '\r' {
				i++
			}
		case '"':
			if i+2 < len(q) && q[i+1] == '"' && q[i+2] == '"' {
				i += 3
				for i < len(q) && !(q[i] == '"' && i+2 < len(q) && q[i+1] == '"' && q[i+2] == '"') {
					if q[i] == '\\' && i+3 < len(q) && q[i+1] == '"' && q[i+2] == '"' && q[i+3] == '"' {
						i += 3
					}
					i++
				}
				i += 2
				continue
			}
			for i++; i < len(q) && q[i] != '"' && q[i] != '\n'; i++ {
				if q[i] == '\\' {
					i++
				}
			}
		}
	}
	return deepest
}

// mostDirectives returns the largest number of directives on one location
// of the document (operation, variable, field, fragment, fragment spread).
func mostDirectives(doc *ast.QueryDocument) int {
	most := 0
	var inSet func(set ast.SelectionSet)
	inSet = func(set ast.SelectionSet) {
		for _, sel := range set {
			switch sel := sel.(type) {
			case *ast.Field:
				most = max(most, len(sel.Directives))
				inSet(sel.SelectionSet)
			case *ast.InlineFragment:
				most = max(most, len(sel.Directives))
				inSet(sel.SelectionSet)
			case *ast.FragmentSpread:
				most = max(most, len(sel.Directives))
			}
		}
	}
	for _, op := range doc.Operations {
		most = max(most, len(op.Directives))
		for _, v := range op.VariableDefinitions {
			most = max(most, len(v.Directives))
		}
		inSet(op.SelectionSet)
	}
	for _, f := range doc.Fragments {
		most = max(most, len(f.Directives))
		inSet(f.SelectionSet)
	}
	return most
}

// setStats is what a selection set expands to.
type setStats struct {
	// selections counts fields (inline fragments and spreads count what they
	// contain), capped at the limit plus one.
	selections int
	// depth is the deepest field nesting below, capped likewise.
	depth int
}

// docMeasure measures selection sets with fragments expanded, remembering
// each fragment's result so that every fragment is walked once.
type docMeasure struct {
	limits    DocumentLimits
	fragments map[string]*ast.FragmentDefinition
	memo      map[string]setStats
	active    map[string]bool // fragments being walked: a cycle counts nothing
	tooDeep   bool
	// budget bounds the expanded walks of fieldPairs to what check allowed.
	budget int
}

func newDocMeasure(doc *ast.QueryDocument, limits DocumentLimits) *docMeasure {
	m := &docMeasure{
		limits:    limits,
		fragments: make(map[string]*ast.FragmentDefinition, len(doc.Fragments)),
		memo:      map[string]setStats{},
		active:    map[string]bool{},
		budget:    limits.MaxSelections,
	}
	for _, f := range doc.Fragments {
		if _, ok := m.fragments[f.Name]; !ok { // the validator reports duplicates
			m.fragments[f.Name] = f
		}
	}
	return m
}

// selectionSet measures set at nesting level (1 for an operation's own).
func (m *docMeasure) selectionSet(set ast.SelectionSet, level int) setStats {
	var s setStats
	if level > m.limits.MaxDepth {
		m.tooDeep = true
		return s
	}
	limit := m.limits.MaxSelections
	for _, sel := range set {
		var sub setStats
		switch sel := sel.(type) {
		case *ast.Field:
			sub = m.selectionSet(sel.SelectionSet, level+1)
			sub.selections = capAdd(sub.selections, 1, limit)
			sub.depth++
		case *ast.InlineFragment:
			sub = m.selectionSet(sel.SelectionSet, level)
		case *ast.FragmentSpread:
			sub = m.fragment(sel.Name)
			if level-1+sub.depth > m.limits.MaxDepth {
				m.tooDeep = true
			}
		}
		s.selections = capAdd(s.selections, sub.selections, limit)
		s.depth = max(s.depth, sub.depth)
	}
	return s
}

// fragment measures the named fragment once; later spreads reuse the result.
func (m *docMeasure) fragment(name string) setStats {
	if s, ok := m.memo[name]; ok {
		return s
	}
	f := m.fragments[name]
	if f == nil || m.active[name] {
		return setStats{} // unknown or cyclic: the validator says so
	}
	if len(m.active) >= m.limits.MaxDepth { // fragments nested in fragments
		m.tooDeep = true
		return setStats{}
	}
	m.active[name] = true
	s := m.selectionSet(f.SelectionSet, 1)
	delete(m.active, name)
	m.memo[name] = s
	return s
}

// pathKey names a response path: the parent path and a response name.
type pathKey struct {
	parent int
	name   string
}

// fieldPairs counts, over the expanded set, the pairs that the
// overlapping-fields rule compares: fields that share a response path, and
// fragments spread into one selection set (compared with each other however
// different their fields). The walk expands fragments (each at most once per
// selection set, as the validator does) and stops when the shared budget
// runs out; check has already made sure the expansion is small.
func (m *docMeasure) fieldPairs(set ast.SelectionSet) int {
	paths := map[pathKey]int{}
	counts := []int{0}
	spreadPairs := 0
	var walk func(set ast.SelectionSet, parent int, seen map[string]bool)
	walkSet := func(set ast.SelectionSet, parent int) {
		seen := map[string]bool{}
		walk(set, parent, seen)
		spreadPairs = capAdd(spreadPairs, len(seen)*(len(seen)-1)/2, m.limits.MaxFieldPairs)
	}
	walk = func(set ast.SelectionSet, parent int, seen map[string]bool) {
		for _, sel := range set {
			if m.budget <= 0 {
				return
			}
			switch sel := sel.(type) {
			case *ast.Field:
				m.budget--
				key := pathKey{parent, sel.Alias}
				if key.name == "" {
					key.name = sel.Name
				}
				id, ok := paths[key]
				if !ok {
					id = len(counts)
					paths[key] = id
					counts = append(counts, 0)
				}
				counts[id]++
				walkSet(sel.SelectionSet, id)
			case *ast.InlineFragment:
				walk(sel.SelectionSet, parent, seen)
			case *ast.FragmentSpread:
				f := m.fragments[sel.Name]
				if f == nil || seen[sel.Name] {
					continue
				}
				seen[sel.Name] = true
				walk(f.SelectionSet, parent, seen)
			}
		}
	}
	walkSet(set, 0)
	pairs := spreadPairs
	for _, k := range counts {
		pairs = capAdd(pairs, k*(k-1)/2, m.limits.MaxFieldPairs)
	}
	return pairs
}
