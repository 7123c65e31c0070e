package store

import (
	"errors"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Postgres error codes (SQLSTATE) the store tells apart.
const (
	pgUndefinedTable  = "42P01"
	pgUniqueViolation = "23505"
)

// IsMissingTable reports whether err says a table does not exist, as on a
// database that was never migrated.
func IsMissingTable(err error) bool {
	if pgErr, ok := errors.AsType[*pgconn.PgError](err); ok {
		return pgErr.Code == pgUndefinedTable
	}
	if sqlErr, ok := errors.AsType[*sqlite.Error](err); ok {
		// SQLite reports a missing table as a generic SQLITE_ERROR; only the
		// message tells it apart.
		return sqlErr.Code()&0xff == sqlite3.SQLITE_ERROR && strings.Contains(sqlErr.Error(), "no such table")
	}
	return false
}

// IsUniqueViolation reports whether err is a unique or primary key
// constraint violation, on either database.
func IsUniqueViolation(err error) bool {
	if pgErr, ok := errors.AsType[*pgconn.PgError](err); ok {
		return pgErr.Code == pgUniqueViolation
	}
	if sqlErr, ok := errors.AsType[*sqlite.Error](err); ok {
		return sqlErr.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || sqlErr.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}
