package account

import (
	"strings"

	"github.com/nyaruka/phonenumbers"

	"wagraph/internal/apperr"
)

// NormalizePhone validates a phone number typed by a person and returns it in
// E.164 (+14155550123). Numbers without a leading + are read in region (an
// ISO 3166 code such as "DE"); with region empty they must be international.
func NormalizePhone(raw, region string) (string, error) {
	const suggestion = "Write the number in international format with the country code, e.g. +14155550123 (spaces and dashes are fine)."
	s := strings.TrimSpace(raw)
	if s == "" {
		return "", apperr.Invalid("phoneNumber", "a phone number is required for a pairing code", suggestion)
	}
	if strings.HasPrefix(s, "00") {
		s = "+" + s[2:]
	}
	if region == "" && !strings.HasPrefix(s, "+") {
		// WhatsApp users often paste the JID form: country code and number
		// without the plus.
		s = "+" + s
	}
	num, err := phonenumbers.Parse(s, strings.ToUpper(region))
	if err != nil {
		return "", apperr.Invalid("phoneNumber", "'"+raw+"' is not a phone number: "+err.Error(), suggestion)
	}
	if !phonenumbers.IsValidNumber(num) {
		return "", apperr.Invalid("phoneNumber", "'"+raw+"' is not a valid phone number for its country", suggestion)
	}
	return phonenumbers.Format(num, phonenumbers.E164), nil
}

// PhoneFromJID returns the E.164 phone number of a WhatsApp user JID such as
// 14155550123:12@s.whatsapp.net, or "" for anything else (LIDs, groups).
func PhoneFromJID(jid string) string {
	user, server, ok := strings.Cut(jid, "@")
	if !ok || server != "s.whatsapp.net" {
		return ""
	}
	user, _, _ = strings.Cut(user, ":") // device
	user, _, _ = strings.Cut(user, ".") // agent
	if len(user) < 5 || len(user) > 15 {
		return ""
	}
	for _, c := range user {
		if c < '0' || c > '9' {
			return ""
		}
	}
	return "+" + user
}
