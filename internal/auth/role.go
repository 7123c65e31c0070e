// Package auth holds API tokens and roles: tokens are stored hashed, sent as
// "Authorization: Bearer <token>" (or in a websocket's connection_init payload),
// and resolve to a Principal carried in the request context.
package auth

import (
	"context"
	"fmt"
)

// Role is what a token may do; roles are ordered.
type Role string

const (
	Viewer   Role = "VIEWER"
	Operator Role = "OPERATOR"
	Admin    Role = "ADMIN"
)

var rank = map[Role]int{Viewer: 1, Operator: 2, Admin: 3}

// ParseRole validates a role name.
func ParseRole(s string) (Role, error) {
	r := Role(s)
	if rank[r] == 0 {
		return "", fmt.Errorf("unknown role %q: use VIEWER, OPERATOR or ADMIN", s)
	}
	return r, nil
}

// Allows reports whether a holder of r may do what needs the required role.
func (r Role) Allows(required Role) bool { return rank[r] >= rank[required] && rank[r] > 0 }

// Principal is the authenticated caller.
type Principal struct {
	TokenID   string
	TokenName string
	Role      Role
	// AuthDisabled is set when the server runs without auth; every caller is
	// then treated as ADMIN.
	AuthDisabled bool
}

type principalKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the caller, if the request was authenticated.
func FromContext(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

type authErrKey struct{}

// WithError records why authentication failed, so the GraphQL layer can
// report it (a bad token is reported as such, not as a missing one).
func WithError(ctx context.Context, err error) context.Context {
	return context.WithValue(ctx, authErrKey{}, err)
}

// ErrorFromContext returns the recorded authentication failure, if any.
func ErrorFromContext(ctx context.Context) error {
	err, _ := ctx.Value(authErrKey{}).(error)
	return err
}
