package whatsapp

import (
	"strings"
	"testing"

	"go.mau.fi/whatsmeow/types"

	"wagraph/internal/account"
)

// JIDs reach wagraph from WhatsApp and from the database, where whatsmeow's
// types.ParseJID reads them back (Manager.device, Session.unlink) and
// account.PhoneFromJID takes the phone number out of them. Neither panics;
// PhoneFromJID returns "" or + and 5 to 15 digits, the user of a user JID;
// and both read a user JID's number alike.
func FuzzParseJID(f *testing.F) {
	for _, s := range []string{
		"14155550123@s.whatsapp.net",
		"14155550123:12@s.whatsapp.net",
		"14155550123.0:12@s.whatsapp.net",
		"14155550123.1:99999999999@s.whatsapp.net",
		"14155550123:-1@s.whatsapp.net",
		"1234567890123456@s.whatsapp.net",
		"123456789012345@lid",
		"120363025246125486@g.us",
		"status@broadcast",
		"s.whatsapp.net",
		"@s.whatsapp.net",
		"14155550123@",
		"a@b@c",
		"1415\x005550123@s.whatsapp.net",
		"14155550123:\xff@s.whatsapp.net",
		"+14155550123@s.whatsapp.net",
		"14155550123@s.whatsapp.net@s.whatsapp.net",
		"１４１５５５５０１２３@s.whatsapp.net",
		"1234@s.whatsapp.net",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		phone := account.PhoneFromJID(s)
		if phone != "" {
			digits := phone[1:]
			if phone[0] != '+' || len(digits) < 5 || len(digits) > 15 || !allDigits(digits) {
				t.Fatalf("PhoneFromJID(%q) = %q, want \"\" or + and 5 to 15 digits", s, phone)
			}
			if !strings.HasSuffix(s, "@"+types.DefaultUserServer) || !strings.HasPrefix(s, digits) {
				t.Fatalf("PhoneFromJID(%q) = %q, but that is not the user of a user JID", s, phone)
			}
		}
		jid, err := types.ParseJID(s)
		if err != nil {
			return
		}
		if jid.Server != types.DefaultUserServer || len(jid.User) < 5 || len(jid.User) > 15 || !allDigits(jid.User) {
			return
		}
		// What wagraph stores is whatsmeow's own form of a JID. (ParseJID
		// also reads looser forms, e.g. ignoring a second "@...", which
		// PhoneFromJID refuses.)
		if got, want := account.PhoneFromJID(jid.String()), "+"+jid.User; got != want {
			t.Fatalf("%q: whatsmeow reads user %q on %s, PhoneFromJID(%q) says %q", s, jid.User, jid.Server, jid.String(), got)
		}
	})
}

func allDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
