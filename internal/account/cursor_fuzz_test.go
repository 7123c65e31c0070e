package account

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"wagraph/internal/apperr"
)

// Cursors come back from clients in `after`. Decoding one never panics and
// either refuses it with INVALID_INPUT on `after`, or returns a position
// that encodes back to a cursor of the same list; a cursor of one list is
// never accepted by another. testdata/fuzz/FuzzDecodeCursor keeps the
// cursors that once decoded to ids the database refused.
func FuzzDecodeCursor(f *testing.F) {
	for _, s := range []string{
		AccountCursor("01a21c74-7e76-7a76-888d-93a15a61aac6"),
		HistoryCursor(1),
		HistoryCursor(1 << 62),
		encodeCursor(cursorHistory, "0"),
		encodeCursor(cursorHistory, "-1"),
		encodeCursor(cursorHistory, "99999999999999999999999"),
		encodeCursor(cursorHistory, "+5"),
		encodeCursor(cursorAccount, ""),
		encodeCursor(cursorAccount, "\u202eevil"),
		"account:abc",                  // not base64 of it
		"YWNjb3VudDo=",                 // padded
		"YWNjb3VudDp4", "YWNjb3VudDp5", // non-canonical trailing bits
		"%%%",
		"",
	} {
		f.Add(s)
	}
	invalid := func(t *testing.T, what, cursor string, err error) {
		t.Helper()
		if ae, ok := apperr.As(err); !ok || ae.Code != apperr.InvalidInput || ae.Field != "after" {
			t.Fatalf("%s(%q): %v, want INVALID_INPUT on after", what, cursor, err)
		}
	}
	f.Fuzz(func(t *testing.T, cursor string) {
		if id, err := decodeCursor(cursorAccount, cursor); err != nil {
			invalid(t, "decodeCursor(account)", cursor, err)
		} else {
			if id == "" || !utf8.ValidString(id) || strings.ContainsFunc(id, unicode.IsControl) {
				// Such an id would reach the database, which refuses NUL
				// (Postgres also invalid UTF-8) with an INTERNAL error.
				t.Fatalf("account cursor %q decodes to id %q: empty, invalid UTF-8 or with control characters", cursor, id)
			}
			if again, err := decodeCursor(cursorAccount, AccountCursor(id)); err != nil || again != id {
				t.Fatalf("account cursor %q decodes to %q, whose cursor decodes to %q, %v", cursor, id, again, err)
			}
			if _, err := decodeHistoryCursor(cursor); err == nil {
				t.Fatalf("cursor %q is accepted as both an account and a history cursor", cursor)
			}
		}
		if v, err := decodeHistoryCursor(cursor); err != nil {
			invalid(t, "decodeHistoryCursor", cursor, err)
		} else {
			if v <= 0 {
				t.Fatalf("history cursor %q decodes to version %d", cursor, v)
			}
			if again, err := decodeHistoryCursor(HistoryCursor(v)); err != nil || again != v {
				t.Fatalf("history cursor %q decodes to %d, whose cursor decodes to %d, %v", cursor, v, again, err)
			}
		}
	})
}
