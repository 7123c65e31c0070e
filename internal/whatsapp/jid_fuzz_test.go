package whatsapp

import (
	"testing"

	"go.mau.fi/whatsmeow/types"

	"wagraph/internal/account"
)

// JIDs reach wagraph from WhatsApp and from the database, where whatsmeow's
// types.ParseJID reads them back (Manager.device, Session.unlink) and
// account.PhoneFromJID takes the phone number out of them. Neither panics,
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
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		phone := account.PhoneFromJID(s)
		jid, err := types.ParseJID(s)
		if err != nil {
			return
		}
		if jid.Server != types.DefaultUserServer || len(jid.User) < 5 || len(jid.User) > 15 || !allDigits(jid.User) {
			return
		}
		if want := "+" + jid.User; phone != want {
			t.Fatalf("%q: whatsmeow reads user %q on %s, PhoneFromJID says %q", s, jid.User, jid.Server, phone)
		}
		if again := account.PhoneFromJID(jid.String()); again != phone {
			t.Fatalf("%q: PhoneFromJID gives %q, but %q for whatsmeow's form %q", s, phone, again, jid.String())
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
