package account

import (
	"strings"
	"testing"

	"wagraph/internal/apperr"
)

// TestNormalizePhoneRefusesLooseInput covers the inputs libphonenumber reads
// leniently: each used to be turned into some number (or, with 16 digits,
// into one WhatsApp cannot have) instead of being refused.
func TestNormalizePhoneRefusesLooseInput(t *testing.T) {
	cases := []struct {
		name, in, region, says string
	}{
		{"double plus", "++49 151 23456789", "", "more than one +"},
		{"plus in the middle", "49+151 23456789", "", "not at the start"},
		{"extension word", "+49 151 23456789 ext 5", "", "extension"},
		{"extension x", "+1 415-555-0123 x12", "", "extension"},
		{"extension hash", "+1 415-555-0123#12", "", "extension"},
		{"vanity letters", "1-800-FLOWERS", "US", "letters"},
		{"vanity letters international", "+1-800-FLOWERS", "", "letters"},
		{"16 digits", "+49 30 1234567891234", "", "15 digits"},
		{"17 digits typed", "+4930123456789123456", "", "15 digits"},
		{"toll free", "+1 800 356 9377", "", "not a mobile or landline"},
		{"premium rate", "+49 900 1234567", "", "not a mobile or landline"},
		{"emoji", "+49 151 2345678☎", "", "not part of a phone number"},
		{"NUL byte", "+49 151 23456789\x00", "", "control"},
		{"only separators", "+ - ()", "", "no digits"},
		{"too short", "+49 12", "", "not a valid phone number"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := NormalizePhone(c.in, c.region)
			ae, ok := apperr.As(err)
			if !ok || ae.Code != apperr.InvalidInput || ae.Field != "phoneNumber" {
				t.Fatalf("NormalizePhone(%q, %q) = %q, %v; want INVALID_INPUT on phoneNumber", c.in, c.region, got, err)
			}
			if !strings.Contains(ae.Message, c.says) {
				t.Errorf("message %q does not say %q", ae.Message, c.says)
			}
			if !strings.Contains(ae.Suggestion, "international format") || !strings.Contains(ae.Suggestion, "+49 151 23456789") {
				t.Errorf("suggestion %q does not say what to type", ae.Suggestion)
			}
		})
	}
}

// TestNormalizePhoneAcceptsMobileAndLandline keeps what people type for real
// numbers working, in the forms the UI suggests and the common local ones.
func TestNormalizePhoneAcceptsMobileAndLandline(t *testing.T) {
	cases := []struct{ in, region, want string }{
		{"+49 151 23456789", "", "+4915123456789"},   // mobile
		{"+49 30 1234567", "", "+49301234567"},       // landline
		{"+1 (415) 555-0123", "", "+14155550123"},    // fixed line or mobile
		{"+44 7400 123456", "", "+447400123456"},     // mobile
		{"+49/151/234.567.89", "", "+4915123456789"}, // other separators
		{"\u00a0+49\u00a0151 23456789 ", "", "+4915123456789"},
		{"+４９ １５１ ２３４５６７８９", "", "+4915123456789"}, // full-width digits
		{"+٤٩ ١٥١ ٢٣٤٥٦٧٨٩", "", "+4915123456789"}, // Arabic-Indic digits
	}
	for _, c := range cases {
		got, err := NormalizePhone(c.in, c.region)
		if err != nil || got != c.want {
			t.Errorf("NormalizePhone(%q, %q) = %q, %v; want %q", c.in, c.region, got, err, c.want)
		}
	}
	// Full-width digits are digits, but a full-width plus is not the plus.
	if got, err := NormalizePhone("+４９ １５１ ２３４５６７８９", ""); err != nil || got != "+4915123456789" {
		t.Errorf("full-width digits: %q, %v", got, err)
	}
}
