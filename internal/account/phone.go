package account

import (
	"strings"
	"unicode"

	"github.com/nyaruka/phonenumbers"

	"wagraph/internal/apperr"
)

// phoneSuggestion is what every refused phone number tells the caller to type.
const phoneSuggestion = "Type the mobile or landline number of the phone in international format: a single +, the country code and the number, e.g. +49 151 23456789 (spaces, dashes, dots, slashes and brackets are fine; no letters or extension)."

// maxE164Digits is the most digits an E.164 number has, country code included.
const maxE164Digits = 15

// NormalizePhone validates a phone number typed by a person and returns it in
// E.164 (+14155550123). Numbers without a leading + are read in region (an
// ISO 3166 code such as "DE"); with region empty they must be international.
//
// Only what libphonenumber calls a valid MOBILE, FIXED_LINE or
// FIXED_LINE_OR_MOBILE number is accepted: a WhatsApp account sits on a phone,
// so toll-free, premium, shared-cost or voicemail numbers cannot pair.
// libphonenumber is lenient on purpose when it parses (it reads "++49",
// letters as on a keypad, and extensions); those inputs are refused here
// rather than silently turned into a different number.
func NormalizePhone(raw, region string) (string, error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return "", invalidPhone("a phone number is required for a pairing code")
	}
	if msg := phoneSyntax(s); msg != "" {
		return "", invalidPhone(quoteInput(raw) + " " + msg)
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
		return "", invalidPhone(quoteInput(raw) + " is not a phone number: " + err.Error())
	}
	if num.GetExtension() != "" {
		return "", invalidPhone(quoteInput(raw) + " has an extension; WhatsApp pairs whole numbers only")
	}
	e164 := phonenumbers.Format(num, phonenumbers.E164)
	if len(e164)-1 > maxE164Digits {
		return "", invalidPhone(quoteInput(raw) + " has more than 15 digits with its country code, the most a phone number (E.164) has")
	}
	// GetNumberType is UNKNOWN exactly when IsValidNumber is false (both
	// match the number against its region's patterns; asking both did the
	// matching twice, most of an import's reading).
	switch phonenumbers.GetNumberType(num) {
	case phonenumbers.MOBILE, phonenumbers.FIXED_LINE, phonenumbers.FIXED_LINE_OR_MOBILE:
		return e164, nil
	case phonenumbers.UNKNOWN:
		return "", invalidPhone(quoteInput(raw) + " is not a valid phone number for its country")
	default:
		return "", invalidPhone(quoteInput(raw) + " is not a mobile or landline number (toll-free, premium-rate, shared-cost and similar numbers cannot run WhatsApp)")
	}
}

// phoneSyntax returns why s is not written as a phone number, or "": digits
// with the usual separators, and at most one + at the very start.
func phoneSyntax(s string) string {
	digits := 0
	for i, r := range s {
		switch {
		case unicode.IsDigit(r):
			digits++
		case r == '+':
			if i != 0 {
				if strings.HasPrefix(s, "++") {
					return "starts with more than one +"
				}
				return "has a + that is not at the start"
			}
		case r == ' ' || r == '-' || r == '.' || r == '/' || r == '(' || r == ')' || r == '\u00a0':
		case r == '#' || r == ';' || r == ',' || r == '*':
			return "has an extension or dialling code (" + string(r) + "); WhatsApp pairs whole numbers only"
		case unicode.IsLetter(r):
			if hasExtensionWord(s[i:]) {
				return "has an extension; WhatsApp pairs whole numbers only"
			}
			return "contains letters; type the number in digits (1-800-FLOWERS is 1-800-356-9377)"
		default:
			return "contains " + quoteRune(r) + ", which is not part of a phone number"
		}
	}
	if digits == 0 {
		return "has no digits"
	}
	if digits > maxE164Digits+2 { // room for a leading 00 or a trunk 0
		return "has more than 15 digits, the most a phone number (E.164) has"
	}
	return ""
}

// hasExtensionWord reports whether s starts with a marker such as "ext",
// "x" or "extension" followed by digits.
func hasExtensionWord(s string) bool {
	lower := strings.ToLower(s)
	for _, w := range []string{"extension", "ext.", "ext", "x"} {
		if rest, ok := strings.CutPrefix(lower, w); ok {
			rest = strings.TrimLeft(rest, " .:")
			return rest != "" && unicode.IsDigit([]rune(rest)[0])
		}
	}
	return false
}

func quoteInput(raw string) string {
	const max = 40
	r := []rune(raw)
	if len(r) > max {
		return "'" + string(r[:max]) + "…'"
	}
	return "'" + raw + "'"
}

func quoteRune(r rune) string {
	if unicode.IsPrint(r) {
		return "'" + string(r) + "'"
	}
	return "a control or invisible character"
}

func invalidPhone(msg string) error {
	return apperr.Invalid("phoneNumber", msg, phoneSuggestion)
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
