package account_test

import (
	"strings"
	"testing"

	"wagraph/internal/account"
	"wagraph/internal/apperr"
)

// isE164 reports whether s is "+" then 1 to 15 digits, the first not 0.
func isE164(s string) bool {
	digits, ok := strings.CutPrefix(s, "+")
	if !ok || len(digits) == 0 || len(digits) > 15 || digits[0] == '0' {
		return false
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// Phone numbers are typed by people (pairing codes). Whatever is typed,
// NormalizePhone does not panic, refuses with INVALID_INPUT on the
// phoneNumber field, or returns E.164 that normalizes to itself.
func FuzzNormalizePhone(f *testing.F) {
	for _, s := range []struct{ raw, region string }{
		{"+14155550123", ""},
		{"+49 151 23456789", ""},
		{"0049 151 23456789", ""},
		{"4915123456789", ""}, // the JID form: country code without a plus
		{"0151 23456789", "DE"},
		{"0151 23456789", "de"},
		{"++4915123456789", ""},
		{"+1 415 555 0123 ext 5", ""},
		{"+1 415 555 0123;ext=5", ""},
		{"1-800-FLOWERS", "US"},
		{"+1-800-FLOWERS", ""},
		{"+4915123456789012", ""}, // 16 digits
		{"+999999999999999999999999999999", ""},
		{"+49\x00151 23456789", ""},
		{"\x00", ""},
		{"+49 151 \xff\xfe", ""},
		{"\u202e+4915123456789", ""},
		{"+49\u200b15123456789", ""},
		{"＋４９ １５１ ２３４５６７８９", ""}, // full-width
		{"+٤٩١٥١٢٣٤٥٦٧٨٩", ""},   // Arabic-Indic digits
		{"", ""},
		{"   ", "DE"},
		{"+", ""},
		{"00", ""},
		{"+14155550123", "XX"},
		{"+14155550123", "\x00"},
		{"tel:+1-415-555-0123", ""},
	} {
		f.Add(s.raw, s.region)
	}
	f.Fuzz(func(t *testing.T, raw, region string) {
		got, err := account.NormalizePhone(raw, region)
		if err != nil {
			ae, ok := apperr.As(err)
			if !ok || ae.Code != apperr.InvalidInput || ae.Field != "phoneNumber" {
				t.Fatalf("NormalizePhone(%q, %q): %v, want INVALID_INPUT on phoneNumber", raw, region, err)
			}
			return
		}
		if !isE164(got) {
			t.Fatalf("NormalizePhone(%q, %q) = %q, not E.164 (+ and at most 15 digits)", raw, region, got)
		}
		for _, r := range []string{"", region} {
			if again, err := account.NormalizePhone(got, r); err != nil || again != got {
				t.Fatalf("NormalizePhone(%q, %q) = %q, but that normalizes (region %q) to %q, %v", raw, region, got, r, again, err)
			}
		}
	})
}
