package graph

import (
	"encoding/base64"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"wagraph/internal/apperr"
)

// Cursors are opaque to clients: base64 of a kind prefix and a position, so a
// history cursor cannot be passed where an accounts cursor is expected. They
// are made and read here, where lists are presented; services take the
// position itself.
const (
	cursorAccount = "account:"
	cursorHistory = "history:"
	cursorContact = "contact:"
	cursorPersona = "persona:"
)

func encodeCursor(kind, pos string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(kind + pos))
}

func decodeCursor(kind, cursor string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(cursor)
	// A position is text without control characters, as handed out: a NUL
	// or invalid UTF-8 would reach the database, which refuses it.
	if err != nil || !strings.HasPrefix(string(b), kind) || len(b) == len(kind) ||
		!utf8.Valid(b) || strings.ContainsFunc(string(b), unicode.IsControl) {
		return "", badCursor()
	}
	return string(b[len(kind):]), nil
}

func badCursor() error {
	return apperr.Invalid("after", "the cursor is not one this list handed out",
		"Pass the endCursor (or an edge's cursor) from the previous page of the same list, or leave 'after' out to start from the beginning.")
}

// accountCursor is the cursor of an account in the accounts list.
func accountCursor(id string) string { return encodeCursor(cursorAccount, id) }

// afterAccount reads an accounts cursor: the id to list after ("" for none).
func afterAccount(cursor *string) (string, error) {
	if cursor == nil || *cursor == "" {
		return "", nil
	}
	return decodeCursor(cursorAccount, *cursor)
}

// historyCursor is the cursor of a status history entry.
func historyCursor(version int64) string {
	return encodeCursor(cursorHistory, strconv.FormatInt(version, 10))
}

// beforeVersion reads a history cursor: the version to list older entries
// than (0 for none).
func beforeVersion(cursor *string) (int64, error) {
	if cursor == nil || *cursor == "" {
		return 0, nil
	}
	s, err := decodeCursor(cursorHistory, *cursor)
	if err != nil {
		return 0, err
	}
	v, perr := strconv.ParseInt(s, 10, 64)
	if perr != nil || v <= 0 {
		return 0, badCursor()
	}
	return v, nil
}
