package store

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/rs/zerolog"
)

// The migration lock keeps two instances from migrating at once. It must die
// with its holder: bun's lock table kept a row after a kill -9 and every
// later start waited for it forever. So the lock is one the database or the
// kernel releases when the holder goes away:
//   - Postgres: a session advisory lock on a connection of its own;
//     Postgres drops it when that connection ends, however it ends.
//   - SQLite: an exclusive OS lock (flock) on a file next to the database
//     (wagraph.db-migrate.lock); the kernel drops it when the process exits.
//     An in-memory database belongs to one process and needs none.
//
// While it waits, the waiter logs who holds the lock and since when.

// lockHolder describes who holds the migration lock, for the waiting log line.
type lockHolder struct {
	Who   string    // a process or backend description
	Since time.Time // when it took the lock; zero if unknown
}

// migrationLocker takes the lock once (tryLock) and says who holds it.
type migrationLocker interface {
	tryLock(ctx context.Context) (ok bool, err error)
	holder(ctx context.Context) (lockHolder, error)
	unlock()
	// where names the lock for log lines, e.g. "advisory lock 123".
	where() string
}

// lockLogEvery is how often a waiter repeats its log line.
const lockLogEvery = 10 * time.Second

// lockMigrations takes the migration lock, waiting up to ctx, and returns
// the function that releases it.
func (db *DB) lockMigrations(ctx context.Context) (unlock func(), err error) {
	var l migrationLocker
	switch {
	case db.Kind == Postgres:
		l, err = newAdvisoryLocker(ctx, db)
	case db.file != "":
		l, err = newFileLocker(db.file + "-migrate.lock")
	default:
		return func() {}, nil // in-memory SQLite: one process, nobody to wait for
	}
	if err != nil {
		return nil, err
	}
	started := time.Now()
	var lastLog time.Time
	wait := 50 * time.Millisecond
	for {
		ok, err := l.tryLock(ctx)
		if err != nil {
			l.unlock()
			return nil, fmt.Errorf("store: take the migration lock (%s): %w", l.where(), err)
		}
		if ok {
			if !lastLog.IsZero() {
				db.log.Info().Str("lock", l.where()).Dur("waited", time.Since(started)).Msg("took the migration lock")
			}
			return l.unlock, nil
		}
		if lastLog.IsZero() || time.Since(lastLog) >= lockLogEvery {
			lastLog = time.Now()
			logWaiting(ctx, db.log, l, started)
		}
		select {
		case <-ctx.Done():
			l.unlock()
			return nil, fmt.Errorf("store: gave up waiting for the migration lock (%s) after %s: %w",
				l.where(), time.Since(started).Round(time.Millisecond), ctx.Err())
		case <-time.After(wait):
		}
		wait = min(wait*2, time.Second)
	}
}

func logWaiting(ctx context.Context, log zerolog.Logger, l migrationLocker, started time.Time) {
	ev := log.Warn().Str("lock", l.where()).Dur("waiting_for", time.Since(started).Round(time.Millisecond))
	h, err := l.holder(ctx)
	switch {
	case err != nil:
		ev = ev.AnErr("holder_error", err)
	case h.Who == "":
		ev = ev.Str("holder", "unknown (released just now?)")
	default:
		ev = ev.Str("holder", h.Who)
		if !h.Since.IsZero() {
			ev = ev.Time("holder_since", h.Since).Dur("held_for", time.Since(h.Since).Round(time.Second))
		}
	}
	ev.Msg("waiting for the migration lock: another wagraph is migrating this database; this start continues when it finishes or dies")
}

// lockOwnerName describes this process for the lock's holder record.
func lockOwnerName() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("wagraph pid %d on %s", os.Getpid(), host)
}
