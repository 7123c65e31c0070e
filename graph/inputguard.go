package graph

import (
	"context"
	"strconv"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"wagraph/internal/apperr"
)

// nulGuard refuses string input that holds a NUL character (U+0000), in
// variables or in the query's own argument values, before any resolver runs.
// No field of the API has a use for it, Postgres cannot store it in text
// (the insert fails, and the client saw INTERNAL), and other tools cut
// strings short at it.
type nulGuard struct{}

var (
	_ graphql.HandlerExtension        = nulGuard{}
	_ graphql.OperationContextMutator = nulGuard{}
)

// ExtensionName implements graphql.HandlerExtension.
func (nulGuard) ExtensionName() string { return "wagraphNULGuard" }

// Validate implements graphql.HandlerExtension.
func (nulGuard) Validate(graphql.ExecutableSchema) error { return nil }

// MutateOperationContext implements graphql.OperationContextMutator.
func (nulGuard) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	field := ""
	for name, v := range oc.Variables {
		if p, ok := nulIn(v, name); ok {
			field = p
			break
		}
	}
	if field == "" && oc.Operation != nil {
		field = nulInSelections(oc.Operation.SelectionSet, map[string]bool{})
	}
	if field == "" {
		return nil
	}
	e := apperr.Invalid(field, "the text in "+field+" contains a NUL character (U+0000)",
		"Remove the NUL characters (\\u0000) from the text; no field of this API accepts them.")
	return &gqlerror.Error{Message: e.Message, Err: e}
}

// nulIn finds a string with NUL in a variable's value; path names it.
func nulIn(v any, path string) (string, bool) {
	switch v := v.(type) {
	case string:
		return path, strings.IndexByte(v, 0) >= 0
	case map[string]any:
		for k, child := range v {
			if p, ok := nulIn(child, path+"."+k); ok {
				return p, true
			}
		}
	case []any:
		for i, child := range v {
			if p, ok := nulIn(child, path+"["+strconv.Itoa(i)+"]"); ok {
				return p, true
			}
		}
	}
	return "", false
}

// nulInSelections finds a string literal with NUL among the arguments of
// set, fragments included (each once); it returns the argument's path.
func nulInSelections(set ast.SelectionSet, seen map[string]bool) string {
	for _, sel := range set {
		switch sel := sel.(type) {
		case *ast.Field:
			for _, arg := range sel.Arguments {
				if p := nulInValue(arg.Value, sel.Name+"."+arg.Name); p != "" {
					return p
				}
			}
			if p := nulInSelections(sel.SelectionSet, seen); p != "" {
				return p
			}
		case *ast.InlineFragment:
			if p := nulInSelections(sel.SelectionSet, seen); p != "" {
				return p
			}
		case *ast.FragmentSpread:
			if sel.Definition == nil || seen[sel.Name] {
				continue
			}
			seen[sel.Name] = true
			if p := nulInSelections(sel.Definition.SelectionSet, seen); p != "" {
				return p
			}
		}
	}
	return ""
}

func nulInValue(v *ast.Value, path string) string {
	if v == nil {
		return ""
	}
	switch v.Kind {
	case ast.StringValue, ast.BlockValue:
		if strings.IndexByte(v.Raw, 0) >= 0 {
			return path
		}
	case ast.ListValue, ast.ObjectValue:
		for i, c := range v.Children {
			p := path + "." + c.Name
			if v.Kind == ast.ListValue {
				p = path + "[" + strconv.Itoa(i) + "]"
			}
			if p := nulInValue(c.Value, p); p != "" {
				return p
			}
		}
	}
	return ""
}
