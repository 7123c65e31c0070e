package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
)

// selects reports whether the query selects the named field of the field
// being resolved (through fragments too; skipped and not included fields
// do not count). Resolvers use it to leave out costly work nobody asked
// for, such as a connection's totalCount.
func selects(ctx context.Context, name string) bool {
	for _, f := range graphql.CollectFieldsCtx(ctx, nil) {
		if f.Name == name {
			return true
		}
	}
	return false
}
