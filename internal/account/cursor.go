package account

import (
	"encoding/base64"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"wagraph/internal/apperr"
)

// Page sizes of the list queries.
const (
	DefaultPageSize = 20
	MaxPageSize     = 100
)

// Cursors are opaque to clients: base64 of a kind prefix and a position, so a
// history cursor cannot be passed where an accounts cursor is expected.
const (
	cursorAccount = "account:"
	cursorHistory = "history:"
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
		return "", apperr.Invalid("after", "the cursor is not one this list handed out",
			"Pass the endCursor (or an edge's cursor) from the previous page of the same list, or leave 'after' out to start from the beginning.")
	}
	return string(b[len(kind):]), nil
}

// AccountCursor is the cursor of an account in the accounts list.
func AccountCursor(id string) string { return encodeCursor(cursorAccount, id) }

// HistoryCursor is the cursor of a status history entry.
func HistoryCursor(version int64) string {
	return encodeCursor(cursorHistory, strconv.FormatInt(version, 10))
}

func decodeHistoryCursor(cursor string) (int64, error) {
	s, err := decodeCursor(cursorHistory, cursor)
	if err != nil {
		return 0, err
	}
	v, perr := strconv.ParseInt(s, 10, 64)
	if perr != nil || v <= 0 {
		return 0, apperr.Invalid("after", "the cursor is not one this list handed out", "")
	}
	return v, nil
}

// pageSize validates a requested page size ("first"); nil means the default.
func pageSize(first *int) (int, error) {
	if first == nil {
		return DefaultPageSize, nil
	}
	if *first < 0 || *first > MaxPageSize {
		return 0, apperr.Invalid("first", "first must be between 0 and "+strconv.Itoa(MaxPageSize),
			"Ask for at most "+strconv.Itoa(MaxPageSize)+" items and page on with 'after'.")
	}
	return *first, nil
}
