package account

import (
	"strings"
	"testing"

	"wagraph/internal/apperr"
)

// TestValidNameCountsCharactersPeopleSee: account names are limited in
// user-perceived characters, and names that display as nothing or in a
// different order than stored are refused.
func TestValidNameCountsCharactersPeopleSee(t *testing.T) {
	for _, ok := range []string{
		strings.Repeat("🇩🇪", MaxNameLength),      // 100 flags are 200 code points
		strings.Repeat("e\u0301", MaxNameLength), // decomposed é
		"Sales Berlin 1",
	} {
		if got, err := validName(ok); err != nil || got != ok {
			t.Errorf("validName(%q) = %q, %v", ok, got, err)
		}
	}
	for _, bad := range []string{
		strings.Repeat("🇩🇪", MaxNameLength+1),
		"\u200b\u200d\u2060",       // invisible only
		"Sales\u202e1 nilreB",      // right-to-left override
		"Sales \u2066Berlin\u2069", // isolate
		"Sales\x00Berlin",
	} {
		_, err := validName(bad)
		if ae, ok := apperr.As(err); !ok || ae.Code != apperr.InvalidInput || ae.Field != "name" || ae.Suggestion == "" {
			t.Errorf("validName(%q) err = %v, want INVALID_INPUT on name with a suggestion", bad, err)
		}
	}
}
