package apperr_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"wagraph/internal/apperr"
)

// every code a client can see; adding one to the catalog means adding it here
// (and to docs/api.md, which docs_test.go checks).
var allCodes = []apperr.Code{
	apperr.Unauthenticated, apperr.Forbidden, apperr.NotFound, apperr.InvalidInput, apperr.Conflict,
	apperr.InvalidTransition, apperr.RateLimited, apperr.Unavailable, apperr.QueryTooComplex,
	apperr.SubscriptionLimit, apperr.SubscriberTooSlow, apperr.SchemaTooNew, apperr.SchemaNotMigrated,
	apperr.BadRequest, apperr.ActivationInProgress, apperr.Internal,
	apperr.AccountNotActive, apperr.RecipientNotOnWhatsApp, apperr.OptedOut, apperr.SendFailed,
}

var retryable = map[apperr.Code]bool{
	apperr.RateLimited: true, apperr.Unavailable: true, apperr.SubscriberTooSlow: true, apperr.Internal: true,
	apperr.ActivationInProgress: true, apperr.AccountNotActive: true,
}

func TestCatalog(t *testing.T) {
	codes := apperr.Codes()
	slices.Sort(codes)
	want := slices.Clone(allCodes)
	slices.Sort(want)
	if !slices.Equal(codes, want) {
		t.Errorf("Codes() = %v, want %v", codes, want)
	}
	for _, c := range allCodes {
		t.Run(string(c), func(t *testing.T) {
			if c != apperr.Code(strings.ToUpper(string(c))) {
				t.Errorf("code %q is not upper case", c)
			}
			e := apperr.New(c, "it broke")
			if e.Suggestion == "" || e.Suggestion != apperr.Suggestion(c) {
				t.Errorf("suggestion %q: every code needs one", e.Suggestion)
			}
			if !strings.HasSuffix(e.Suggestion, ".") {
				t.Errorf("suggestion %q: write a sentence", e.Suggestion)
			}
			if e.Retryable != retryable[c] {
				t.Errorf("retryable = %v, want %v", e.Retryable, retryable[c])
			}
			if e.Code != c || e.Message != "it broke" || e.Err != nil {
				t.Errorf("New = %+v", e)
			}
		})
	}
}

func TestUnknownCodeGetsInternalAdvice(t *testing.T) {
	e := apperr.New("MADE_UP", "x")
	if e.Code != "MADE_UP" || e.Suggestion != apperr.Suggestion(apperr.Internal) || !e.Retryable {
		t.Errorf("New(MADE_UP) = %+v", e)
	}
	if apperr.Suggestion("MADE_UP") != "" {
		t.Error("Suggestion of an unknown code should be empty")
	}
}

func TestErrorText(t *testing.T) {
	if got := apperr.Newf(apperr.NotFound, "no account %q", "a1").Error(); got != `NOT_FOUND: no account "a1"` {
		t.Errorf("Error() = %q", got)
	}
	cause := errors.New("dial tcp: connection refused")
	w := apperr.Wrap(cause, apperr.Unavailable, "cannot reach the database")
	if got := w.Error(); got != "UNAVAILABLE: cannot reach the database: dial tcp: connection refused" {
		t.Errorf("Error() = %q", got)
	}
	if !errors.Is(w, cause) || errors.Unwrap(w) != cause {
		t.Error("Wrap does not unwrap to its cause")
	}
}

func TestInvalid(t *testing.T) {
	e := apperr.Invalid("name", "name is empty", "Give it a name.")
	if e.Code != apperr.InvalidInput || e.Field != "name" || e.Suggestion != "Give it a name." || e.Retryable {
		t.Errorf("Invalid = %+v", e)
	}
	if d := apperr.Invalid("role", "bad role", ""); d.Suggestion != apperr.Suggestion(apperr.InvalidInput) {
		t.Errorf("Invalid without a suggestion got %q, want the catalog's", d.Suggestion)
	}
}

func TestWithSuggestionCopies(t *testing.T) {
	orig := apperr.New(apperr.Unauthenticated, "bad token")
	custom := orig.WithSuggestion("Copy the whole token.")
	if custom.Suggestion != "Copy the whole token." || custom.Code != orig.Code || custom.Message != orig.Message {
		t.Errorf("WithSuggestion = %+v", custom)
	}
	if orig.Suggestion != apperr.Suggestion(apperr.Unauthenticated) {
		t.Error("WithSuggestion changed the original")
	}
}

func TestIsMatchesOnCode(t *testing.T) {
	err := fmt.Errorf("resolver: %w", apperr.New(apperr.NotFound, "no account a1"))
	tests := []struct {
		target error
		want   bool
	}{
		{apperr.New(apperr.NotFound, ""), true},
		{apperr.New(apperr.Forbidden, ""), false},
		{apperr.New(apperr.NotFound, "another message"), false},
		{errors.New("NOT_FOUND"), false},
	}
	for _, tt := range tests {
		if got := errors.Is(err, tt.target); got != tt.want {
			t.Errorf("errors.Is(%v, %v) = %v, want %v", err, tt.target, got, tt.want)
		}
	}
}

func TestAsAndCodeOf(t *testing.T) {
	coded := apperr.New(apperr.Conflict, "changed meanwhile")
	tests := []struct {
		name string
		err  error
		code apperr.Code
		ok   bool
	}{
		{"coded", coded, apperr.Conflict, true},
		{"wrapped", fmt.Errorf("service: %w", coded), apperr.Conflict, true},
		{"joined", errors.Join(errors.New("other"), coded), apperr.Conflict, true},
		{"plain", errors.New("boom"), apperr.Internal, false},
		{"nil", nil, apperr.Internal, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, ok := apperr.As(tt.err)
			if ok != tt.ok || (ok && e != coded) {
				t.Errorf("As = %v, %v", e, ok)
			}
			if got := apperr.CodeOf(tt.err); got != tt.code {
				t.Errorf("CodeOf = %s, want %s", got, tt.code)
			}
		})
	}
}
