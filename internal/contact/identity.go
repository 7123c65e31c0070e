package contact

import (
	"strings"

	"github.com/nyaruka/phonenumbers"

	"wagraph/internal/account"
	"wagraph/internal/apperr"
)

// maxLIDDigits bounds a LID's user part; WhatsApp's are about 15 digits.
const maxLIDDigits = 20

// NormalizeLID returns a LID as stored (digits@lid) from "digits@lid",
// "digits:device@lid" or bare digits; an error says what is wrong.
func NormalizeLID(raw string) (string, error) {
	s := strings.TrimSpace(raw)
	user, server, hasServer := strings.Cut(s, "@")
	if hasServer && server != "lid" {
		return "", apperr.Invalid("lid", "'"+clip(raw)+"' is not a LID: a LID ends in @lid",
			"Give the hidden-user id as WhatsApp writes it, e.g. 123456789012345@lid (phone numbers go in the phone field).")
	}
	user, _, _ = strings.Cut(user, ":") // device
	if user == "" || len(user) > maxLIDDigits || strings.Trim(user, "0123456789") != "" {
		return "", apperr.Invalid("lid", "'"+clip(raw)+"' is not a LID: it must be digits followed by @lid",
			"Give the hidden-user id as WhatsApp writes it, e.g. 123456789012345@lid.")
	}
	return user + "@lid", nil
}

// NormalizePhone returns a contact's number in E.164. Numbers without a
// country code are read in region (ISO 3166, e.g. "DE"); with region empty
// they must be international. WhatsApp JIDs (digits@s.whatsapp.net) are
// accepted too.
func NormalizePhone(raw, region string) (string, error) {
	if p := account.PhoneFromJID(strings.TrimSpace(raw)); p != "" {
		raw = p
	}
	return account.NormalizePhone(raw, region)
}

// ValidRegion reports whether region is a region libphonenumber knows
// ("" is valid: international numbers only).
func ValidRegion(region string) error {
	if region == "" {
		return nil
	}
	if _, ok := phonenumbers.GetSupportedRegions()[strings.ToUpper(region)]; !ok {
		return apperr.Invalid("defaultRegion", "'"+clip(region)+"' is not a region phone numbers are known for",
			"Use a two-letter ISO 3166 country code such as DE, BR or US, or leave it empty to require international numbers (+49…).")
	}
	return nil
}

func clip(s string) string {
	r := []rune(s)
	if len(r) > 40 {
		return string(r[:40]) + "…"
	}
	return s
}
