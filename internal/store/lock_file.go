package store

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"
)

// fileLocker holds the SQLite migration lock as an exclusive OS lock on a
// file next to the database. The kernel releases it when the process exits,
// killed or not. The holder writes who it is and when it took the lock into
// the file, for waiters to log.
type fileLocker struct {
	path   string
	f      *os.File
	locked bool
}

func newFileLocker(path string) (*fileLocker, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("store: open the migration lock file: %w", err)
	}
	return &fileLocker{path: path, f: f}, nil
}

func (l *fileLocker) where() string { return "lock file " + l.path }

func (l *fileLocker) tryLock(context.Context) (bool, error) {
	ok, err := tryLockFile(l.f)
	if err != nil || !ok {
		return false, err
	}
	l.locked = true
	record := lockOwnerName() + "\n" + time.Now().UTC().Format(time.RFC3339Nano) + "\n"
	if err := l.f.Truncate(0); err == nil {
		_, _ = l.f.WriteAt([]byte(record), 0)
	}
	return true, nil
}

// holder reads the record the holder wrote. It is only as fresh as that
// write: a holder that has just taken the lock may not have written yet.
func (l *fileLocker) holder(context.Context) (lockHolder, error) {
	b, err := os.ReadFile(l.path)
	if err != nil {
		return lockHolder{}, err
	}
	who, since, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	h := lockHolder{Who: who}
	if t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(since)); err == nil {
		h.Since = t
	}
	return h, nil
}

func (l *fileLocker) unlock() {
	if l.locked {
		_ = l.f.Truncate(0)
		_ = unlockFile(l.f)
	}
	_ = l.f.Close()
}
