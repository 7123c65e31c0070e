package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"time"
)

// migrationLockKey is the Postgres advisory lock key for migrations: "wagr"
// and "migr" as the two 32-bit halves pg_locks shows as classid and objid.
const migrationLockKey int64 = 0x77616772_6d696772

// advisoryLocker holds the migration lock as a session advisory lock on a
// connection it keeps out of the pool until unlock.
type advisoryLocker struct {
	conn   *sql.Conn
	locked bool
}

func newAdvisoryLocker(ctx context.Context, db *DB) (*advisoryLocker, error) {
	conn, err := db.DB.DB.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("store: connection for the migration lock: %w", err)
	}
	// Waiters find the holder by this name in pg_stat_activity.
	name := lockOwnerName()
	if len(name) > 63 {
		name = name[:63]
	}
	if _, err := conn.ExecContext(ctx, "SELECT set_config('application_name', $1, false)", name); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("store: connection for the migration lock: %w", err)
	}
	return &advisoryLocker{conn: conn}, nil
}

func (l *advisoryLocker) where() string {
	return fmt.Sprintf("Postgres advisory lock %d", migrationLockKey)
}

func (l *advisoryLocker) tryLock(ctx context.Context) (bool, error) {
	err := l.conn.QueryRowContext(ctx, "SELECT pg_try_advisory_lock($1)", migrationLockKey).Scan(&l.locked)
	return l.locked, err
}

// holder reads the lock's holder from pg_locks and pg_stat_activity. The
// holder's connection does nothing after taking the lock, so the time its
// state last changed is when it took it.
func (l *advisoryLocker) holder(ctx context.Context) (lockHolder, error) {
	var (
		pid                 int
		app, client, state  string
		backendStart, since sql.NullTime
	)
	err := l.conn.QueryRowContext(ctx, `
SELECT a.pid, coalesce(a.application_name, ''), coalesce(host(a.client_addr), 'local socket'),
       coalesce(a.state, ''), a.backend_start, a.state_change
FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
  AND l.classid::bigint = $1 AND l.objid::bigint = $2
  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
LIMIT 1`, migrationLockKey>>32, migrationLockKey&0xffffffff).Scan(&pid, &app, &client, &state, &backendStart, &since)
	if err == sql.ErrNoRows {
		return lockHolder{}, nil
	}
	if err != nil {
		return lockHolder{}, err
	}
	h := lockHolder{Who: fmt.Sprintf("Postgres backend pid %d (application_name %q, client %s, connection %s)", pid, app, client, state)}
	if since.Valid {
		h.Since = since.Time
	} else if backendStart.Valid {
		h.Since = backendStart.Time
	}
	return h, nil
}

// unlock releases the lock and closes its connection rather than return it
// to the pool, so no session lock or application_name outlives the migration.
func (l *advisoryLocker) unlock() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if l.locked {
		_, _ = l.conn.ExecContext(ctx, "SELECT pg_advisory_unlock($1)", migrationLockKey)
	}
	_ = l.conn.Raw(func(any) error { return driver.ErrBadConn })
	_ = l.conn.Close()
}
