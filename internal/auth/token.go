package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"wagraph/internal/apperr"
	"wagraph/internal/textrule"
)

// tokenPrefix marks wagraph tokens so they are recognisable in secret scanners.
const tokenPrefix = "wag"

// Token is a stored API token; the secret itself is never stored.
type Token struct {
	bun.BaseModel `bun:"table:api_tokens"`

	ID         string     `bun:"id,pk"`
	Name       string     `bun:"name,notnull"`
	Role       Role       `bun:"role,notnull"`
	SecretHash string     `bun:"secret_hash,notnull"`
	CreatedAt  time.Time  `bun:"created_at,notnull"`
	LastUsedAt *time.Time `bun:"last_used_at"`
	RevokedAt  *time.Time `bun:"revoked_at"`
}

// MaxTokenNameLength is the longest token name accepted, in user-perceived
// characters.
const MaxTokenNameLength = 64

// tokenName is the rule for token names, shared with account names.
var tokenName = textrule.Label{Field: "name", What: "token name", MaxChars: MaxTokenNameLength, Example: "admin-app"}

// Service creates, checks and revokes tokens.
type Service struct {
	db  bun.IDB
	now func() time.Time
	// Disabled makes every request an ADMIN without a token (development only).
	disabled bool
	// guard slows down clients that keep sending wrong tokens; nil: no limit.
	guard   *Guard
	clients ClientAddresses
	// feed announces revocations to every instance; conns are this
	// instance's websockets, ended when their token is revoked.
	feed  RevocationFeed
	conns connections
}

// NewService returns a token service over db. With disabled set, Authenticate
// accepts anything; the server refuses that on non-loopback addresses.
func NewService(db bun.IDB, disabled bool, opts ...Option) *Service {
	s := &Service{db: db, now: time.Now, disabled: disabled}
	for _, opt := range opts {
		opt(s)
	}
	return s
}

// UseGuard makes the middleware and websocket authentication count failed
// attempts per client address with g; clients says how to find that address
// behind proxies.
func (s *Service) UseGuard(g *Guard, clients ClientAddresses) {
	s.guard, s.clients = g, clients
}

// Disabled reports whether auth is off.
func (s *Service) Disabled() bool { return s.disabled }

// Create makes a token and returns it with its full secret string, which is
// shown to the caller once and never again.
func (s *Service) Create(ctx context.Context, name string, role Role) (*Token, string, error) {
	name, err := tokenName.Check(name)
	if err != nil {
		return nil, "", err
	}
	if _, err := ParseRole(string(role)); err != nil {
		return nil, "", apperr.Invalid("role", err.Error(), "")
	}
	id, err := randomHex(6)
	if err != nil {
		return nil, "", err
	}
	secret, err := randomHex(32)
	if err != nil {
		return nil, "", err
	}
	t := &Token{ID: id, Name: name, Role: role, SecretHash: hashSecret(secret), CreatedAt: s.now().UTC()}
	if _, err := s.db.NewInsert().Model(t).Exec(ctx); err != nil {
		return nil, "", fmt.Errorf("auth: store token: %w", err)
	}
	return t, tokenPrefix + "_" + id + "_" + secret, nil
}

// Authenticate resolves a bearer token (with or without the "Bearer " prefix)
// to a Principal.
func (s *Service) Authenticate(ctx context.Context, bearer string) (Principal, error) {
	if s.disabled {
		return Principal{Role: Admin, AuthDisabled: true}, nil
	}
	raw := bearerToken(bearer)
	if raw == "" {
		return Principal{}, apperr.New(apperr.Unauthenticated, "no API token was sent")
	}
	parts := strings.SplitN(raw, "_", 3)
	if len(parts) != 3 || parts[0] != tokenPrefix || parts[1] == "" || parts[2] == "" {
		return Principal{}, apperr.New(apperr.Unauthenticated, "the API token is malformed").
			WithSuggestion("Send the whole token as printed when it was created (it starts with 'wag_'), as 'Authorization: Bearer <token>'.")
	}
	if !isHex(parts[1]) {
		// Ids are hex (randomHex); anything else cannot be one, and the
		// database would refuse some of it (a NUL) as an error of its own.
		return Principal{}, invalidToken()
	}
	var t Token
	err := s.db.NewSelect().Model(&t).Where("id = ?", parts[1]).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return Principal{}, invalidToken()
	}
	if err != nil {
		return Principal{}, apperr.Wrap(err, apperr.Unavailable, "could not check the API token")
	}
	if subtle.ConstantTimeCompare([]byte(t.SecretHash), []byte(hashSecret(parts[2]))) != 1 {
		return Principal{}, invalidToken()
	}
	if t.RevokedAt != nil {
		return Principal{}, revokedToken()
	}
	s.touch(ctx, &t)
	return Principal{TokenID: t.ID, TokenName: t.Name, Role: t.Role}, nil
}

// bearerToken returns the token of an Authorization value, with or without
// the "Bearer " scheme; "" when none was sent.
func bearerToken(bearer string) string {
	raw := strings.TrimSpace(bearer)
	if len(raw) > 7 && strings.EqualFold(raw[:7], "bearer ") {
		return strings.TrimSpace(raw[7:])
	}
	if strings.EqualFold(raw, "bearer") {
		return ""
	}
	return raw
}

// touch records use at most once a minute per token, so authentication does
// not turn every read into a write.
func (s *Service) touch(ctx context.Context, t *Token) {
	now := s.now().UTC()
	if t.LastUsedAt != nil && now.Sub(*t.LastUsedAt) < time.Minute {
		return
	}
	_, _ = s.db.NewUpdate().Model((*Token)(nil)).Set("last_used_at = ?", now).Where("id = ?", t.ID).Exec(ctx)
}

// isTokenFailure reports whether err means the token itself was wrong (as
// opposed to the database being unreachable): what the Guard counts.
func isTokenFailure(err error) bool { return apperr.CodeOf(err) == apperr.Unauthenticated }

// failureReason is the message of a token failure, for the log.
func failureReason(err error) string {
	if e, ok := apperr.As(err); ok {
		return e.Message
	}
	return err.Error()
}

func revokedToken() error {
	return apperr.New(apperr.Unauthenticated, "the API token was revoked").
		WithSuggestion("Ask an ADMIN for a new token ('wagraph token create --role OPERATOR').")
}

func invalidToken() error {
	return apperr.New(apperr.Unauthenticated, "the API token is not valid").
		WithSuggestion("Check that the whole token was copied; create a new one with 'wagraph token create --role OPERATOR' if it was lost.")
}

// List returns every token, newest first.
func (s *Service) List(ctx context.Context) ([]Token, error) {
	var ts []Token
	if err := s.db.NewSelect().Model(&ts).Order("created_at DESC", "id").Scan(ctx); err != nil {
		return nil, fmt.Errorf("auth: list tokens: %w", err)
	}
	return ts, nil
}

// Revoke marks a token revoked; revoking twice keeps the first time. Every
// websocket opened with the token, on every instance, is closed (see
// TrackConnection); revoking again announces it again.
func (s *Service) Revoke(ctx context.Context, id string) (*Token, error) {
	var t Token
	err := s.db.NewSelect().Model(&t).Where("id = ?", id).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, apperr.Newf(apperr.NotFound, "no API token with id %q", id)
	}
	if err != nil {
		return nil, fmt.Errorf("auth: find token: %w", err)
	}
	if t.RevokedAt == nil {
		now := s.now().UTC()
		t.RevokedAt = &now
		if _, err := s.db.NewUpdate().Model(&t).Column("revoked_at").WherePK().Exec(ctx); err != nil {
			return nil, fmt.Errorf("auth: revoke token: %w", err)
		}
	}
	if err := s.announce(ctx, t.ID); err != nil {
		return nil, err
	}
	return &t, nil
}

// Bootstrap creates an ADMIN token when no usable token exists, returning its
// secret string so the caller can print it once. It returns "" otherwise.
func (s *Service) Bootstrap(ctx context.Context) (string, error) {
	n, err := s.db.NewSelect().Model((*Token)(nil)).Where("revoked_at IS NULL").Count(ctx)
	if err != nil {
		return "", fmt.Errorf("auth: count tokens: %w", err)
	}
	if n > 0 {
		return "", nil
	}
	_, secret, err := s.Create(ctx, "bootstrap-admin", Admin)
	return secret, err
}

func hashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("auth: random: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// isHex reports whether s is lower-case hex, as randomHex writes it.
func isHex(s string) bool {
	for _, c := range []byte(s) {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
