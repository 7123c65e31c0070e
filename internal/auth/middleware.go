package auth

import (
	"context"
	"net/http"
	"strings"
)

// Middleware authenticates the Authorization header when one is sent and puts
// the Principal (or the failure) in the request context. It rejects nothing by
// itself: the GraphQL layer decides, because `health` is public.
func (s *Service) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := s.authenticateHeader(r.Context(), r.Header.Get("Authorization"))
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
		// A token sent on the upgrade request's header also counts.
		if p, ok := FromContext(ctx); ok {
			return WithPrincipal(ctx, p), nil
		}
	}
	p, err := s.Authenticate(ctx, token)
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
	p, err := s.Authenticate(ctx, header)
	if err != nil {
		return WithError(ctx, err)
	}
	return WithPrincipal(ctx, p)
}
