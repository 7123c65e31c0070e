package store_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"wagraph/internal/store"
	"wagraph/internal/store/storetest"
)

// logWatch is a log writer that says when a line containing want appears.
type logWatch struct {
	want string
	mu   sync.Mutex
	buf  bytes.Buffer
	seen chan struct{}
	once sync.Once
}

func newLogWatch(want string) *logWatch { return &logWatch{want: want, seen: make(chan struct{})} }

func (w *logWatch) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if strings.Contains(w.buf.String(), w.want) {
		w.once.Do(func() { close(w.seen) })
	}
	return len(p), nil
}

func (w *logWatch) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

func openURL(t *testing.T, url string, log io.Writer) *store.DB {
	t.Helper()
	opts := store.Options{MaxOpenConns: 4}
	if log != nil {
		opts.Logger = zerolog.New(log)
	}
	db, err := store.Open(context.Background(), url, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// A row left in bun_migration_locks by a killed migrator used to make every
// later start wait forever. The lock no longer lives in a table.
func TestStaleBunLockRowDoesNotBlock(t *testing.T) {
	for _, d := range storetest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			db := storetest.OpenEmpty(t, d)
			idType := "INTEGER PRIMARY KEY" // SQLite: the rowid
			if d == store.Postgres {
				idType = "BIGSERIAL PRIMARY KEY"
			}
			// The table and row as bun's Migrator.Lock left them.
			for _, q := range []string{
				"CREATE TABLE bun_migration_locks (id " + idType + ", table_name VARCHAR UNIQUE)",
				"INSERT INTO bun_migration_locks (id, table_name) VALUES (1, 'bun_migrations')",
			} {
				if _, err := db.ExecContext(ctx, q); err != nil {
					t.Fatal(err)
				}
			}
			applied, err := db.Migrate(ctx)
			if err != nil {
				t.Fatalf("Migrate with a stale bun_migration_locks row: %v", err)
			}
			if len(applied) == 0 {
				t.Fatal("Migrate applied nothing")
			}
			if err := db.CheckSchema(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := db.ExecContext(ctx, "SELECT 1 FROM bun_migration_locks"); !store.IsMissingTable(err) {
				t.Fatalf("bun_migration_locks still there (err %v); the migrations drop it", err)
			}
		})
	}
}

// A migrated database needs no lock: a start must not wait for a migrating
// (or stuck) instance when there is nothing to migrate.
func TestMigrateTakesNoLockWhenCurrent(t *testing.T) {
	for _, d := range storetest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			url := storetest.URL(t, d)
			holder := openURL(t, url, nil)
			if _, err := holder.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			unlock, err := store.LockMigrations(ctx, holder)
			if err != nil {
				t.Fatal(err)
			}
			defer unlock()

			log := newLogWatch("waiting for the migration lock")
			other := openURL(t, url, log)
			short, cancelShort := context.WithTimeout(ctx, 3*time.Second)
			defer cancelShort()
			applied, err := other.Migrate(short)
			if err != nil || len(applied) != 0 {
				t.Fatalf("Migrate on a current schema while the lock is held = %v, %v; want nothing, nil", applied, err)
			}
			if strings.Contains(log.String(), "waiting") {
				t.Fatalf("Migrate waited for the lock: %s", log)
			}
		})
	}
}

// Several instances starting at once on a fresh database: one migrates, the
// others wait for it and find nothing left to do.
func TestConcurrentMigrate(t *testing.T) {
	for _, d := range storetest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			url := storetest.URL(t, d)
			var wg sync.WaitGroup
			results := make([][]string, 3)
			errs := make([]error, 3)
			for i := range results {
				db := openURL(t, url, nil)
				wg.Go(func() { results[i], errs[i] = db.Migrate(ctx) })
			}
			wg.Wait()
			total := 0
			for i := range results {
				if errs[i] != nil {
					t.Fatalf("instance %d: %v", i, errs[i])
				}
				total += len(results[i])
			}
			want, err := openURL(t, storetest.URL(t, d), nil).Migrate(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if total != len(want) {
				t.Fatalf("instances applied %d migrations in all, want each of the %d once", total, len(want))
			}
		})
	}
}

// holdLockEnv makes TestHoldMigrationLockHelper a child process that takes
// the migration lock of the database it names and keeps it until killed.
const holdLockEnv = "WAGRAPH_TEST_HOLD_MIGRATION_LOCK"

func TestHoldMigrationLockHelper(t *testing.T) {
	url := os.Getenv(holdLockEnv)
	if url == "" {
		t.Skip("helper process for TestMigrationLockDiesWithHolder")
	}
	ctx := context.Background()
	db, err := store.Open(ctx, url, store.Options{MaxOpenConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.LockMigrations(ctx, db); err != nil {
		t.Fatal(err)
	}
	fmt.Printf("locked pid %d\n", os.Getpid())
	_, _ = io.Copy(io.Discard, os.Stdin) // until killed
}

// A holder killed with SIGKILL while it holds the migration lock releases it
// (Postgres ends its session, the kernel its file lock), and the instance
// waiting for it logs who holds it and since when, then migrates.
func TestMigrationLockDiesWithHolder(t *testing.T) {
	for _, d := range storetest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			url := storetest.URL(t, d)
			openURL(t, url, nil) // creates the SQLite file's directory

			cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestHoldMigrationLockHelper$", "-test.v")
			cmd.Env = append(os.Environ(), holdLockEnv+"="+url)
			stdin, err := cmd.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			defer stdin.Close()
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			cmd.Stderr = os.Stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
			lines := bufio.NewScanner(stdout)
			locked := false
			for !locked && lines.Scan() {
				locked = strings.HasPrefix(lines.Text(), "locked")
			}
			if !locked {
				t.Fatal("helper process did not take the lock")
			}
			go func() { _, _ = io.Copy(io.Discard, stdout) }()

			log := newLogWatch("waiting for the migration lock")
			waiter := openURL(t, url, log)
			done := make(chan error, 1)
			go func() { _, err := waiter.Migrate(ctx); done <- err }()
			select {
			case <-log.seen:
			case err := <-done:
				t.Fatalf("Migrate returned %v while the helper held the lock", err)
			}
			line := log.String()
			t.Logf("waiting log line: %s", line)
			if !strings.Contains(line, fmt.Sprintf("wagraph pid %d", cmd.Process.Pid)) || !strings.Contains(line, "holder_since") {
				t.Fatalf("waiting log line does not name the holder (pid %d) and since when: %s", cmd.Process.Pid, line)
			}

			if err := cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			if err := <-done; err != nil {
				t.Fatalf("Migrate after the holder was killed: %v\nlog: %s", err, log)
			}
			if err := waiter.CheckSchema(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
}
