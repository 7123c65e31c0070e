package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"wagraph/graph/model"
	"wagraph/internal/apperr"
	"wagraph/internal/auth"
)

// requirePrincipal returns the caller, or the coded reason there is none: the
// recorded token failure when a bad token was sent, UNAUTHENTICATED otherwise.
func requirePrincipal(ctx context.Context) (auth.Principal, error) {
	if p, ok := auth.FromContext(ctx); ok {
		return p, nil
	}
	if err := auth.ErrorFromContext(ctx); err != nil {
		return auth.Principal{}, err
	}
	return auth.Principal{}, apperr.New(apperr.Unauthenticated, "this operation needs an API token")
}

// hasRole implements @hasRole: the caller must hold at least the role.
func hasRole(ctx context.Context, _ any, next graphql.Resolver, role model.Role) (any, error) {
	p, err := requirePrincipal(ctx)
	if err != nil {
		return nil, err
	}
	if !p.Role.Allows(auth.Role(role)) {
		return nil, apperr.Newf(apperr.Forbidden, "this operation needs the %s role; your token has %s", role, p.Role)
	}
	return next(ctx)
}

// publicFields may be selected without a token, so monitors can call health
// and GraphiQL can load the schema (which is public in the repository anyway;
// GRAPHQL_INTROSPECTION=false turns introspection off for everyone).
var publicFields = map[string]bool{"health": true, "__typename": true, "__schema": true, "__type": true}

// RequireToken refuses any operation that selects a root field other than the
// public ones when the caller has no valid token. Role checks beyond that are
// per field, by @hasRole.
func RequireToken(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	oc := graphql.GetOperationContext(ctx)
	if _, ok := auth.FromContext(ctx); ok || oc.Operation == nil {
		return next(ctx)
	}
	public := true
	for _, f := range graphql.CollectFields(oc, oc.Operation.SelectionSet, nil) {
		if !publicFields[f.Name] {
			public = false
			break
		}
	}
	if public {
		return next(ctx)
	}
	_, err := requirePrincipal(ctx)
	return graphql.OneShot(&graphql.Response{Errors: gqlerror.List{presentError(ctx, err)}})
}
