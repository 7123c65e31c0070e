package auth

import (
	"context"
	"net/http"
	"strings"
)

// Middleware authenticates the Authorization header when one is sent and puts
// the Principal (or the failure) in the request context. It rejects nothing by
// itself: the GraphQL layer decides, because `health` is public. It also
// records the client's address, which websocket connection_init checks use.
func (s *Service) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := WithClient(r.Context(), s.clients.Of(r))
		ctx = s.authenticateHeader(ctx, r.Header.Get("Authorization"))
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// AuthenticateInit authenticates a websocket connection_init payload, which
// carries the token as "Authorization" (with or without "Bearer ") or "authToken".
func (s *Service) AuthenticateInit(ctx context.Context, payload map[string]any) (context.Context, error) {
	token := ""
	for _, key := range []string{"Authorization", "authorization", "authToken"} {
		if v, ok := payload[key].(string); ok && strings.TrimSpace(v) != "" {
			token = v
			break
		}
	}
	if token == "" {
		// A token sent on the upgrade request's header also counts, and
		// so does its failure.
		if p, ok := FromContext(ctx); ok {
			return WithPrincipal(ctx, p), nil
		}
		if err := ErrorFromContext(ctx); err != nil {
			return ctx, err
		}
	}
	p, err := s.authenticateClient(ctx, token)
	if err != nil {
		return ctx, err
	}
	return WithPrincipal(ctx, p), nil
}

func (s *Service) authenticateHeader(ctx context.Context, header string) context.Context {
	if s.disabled {
		return WithPrincipal(ctx, Principal{Role: Admin, AuthDisabled: true})
	}
	if strings.TrimSpace(header) == "" {
		return ctx
	}
	p, err := s.authenticateClient(ctx, header)
	if err != nil {
		return WithError(ctx, err)
	}
	return WithPrincipal(ctx, p)
}

// authenticateClient is Authenticate for a request from the client recorded
// in ctx: while that client waits after too many failures, the token is not
// even looked at, and every failure is counted and logged (never the secret).
func (s *Service) authenticateClient(ctx context.Context, bearer string) (Principal, error) {
	client := ClientFromContext(ctx)
	// An empty "Bearer " (a GraphiQL template left unfilled) is no attempt.
	if s.disabled || s.guard == nil || client == "" || bearerToken(bearer) == "" {
		return s.Authenticate(ctx, bearer)
	}
	wait, counted := s.guard.Begin(client)
	if wait > 0 {
		s.guard.opts.Log.Debug().Str("client", client).Dur("retryAfter", wait).Msg("authentication attempt refused: the client must wait after failed attempts")
		return Principal{}, rateLimited(wait)
	}
	p, err := s.Authenticate(ctx, bearer)
	switch {
	case err == nil:
		s.guard.Succeeded(client)
	case isTokenFailure(err):
		failures, backoff := s.guard.Failed(client, counted)
		ev := s.guard.opts.Log.Warn().Str("client", client).Int("failures", failures).Str("reason", failureReason(err))
		if id := tokenID(bearer); id != "" {
			ev = ev.Str("tokenId", id)
		}
		if backoff > 0 {
			ev = ev.Dur("backoff", backoff)
		}
		ev.Msg("authentication failed")
	default: // the token could not be checked: no failure of the client's
		s.guard.Refund(client, counted)
	}
	return p, err
}

// tokenID returns the id part of a wagraph token (wag_<id>_<secret>), which
// is not secret, or "" when bearer is not shaped like one.
func tokenID(bearer string) string {
	parts := strings.SplitN(bearerToken(bearer), "_", 3)
	if len(parts) != 3 || parts[0] != tokenPrefix || len(parts[1]) > 32 {
		return ""
	}
	for _, c := range parts[1] {
		if !strings.ContainsRune("0123456789abcdef", c) {
			return ""
		}
	}
	return parts[1]
}
