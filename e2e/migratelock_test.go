package e2e

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"wagraph/internal/store/storetest"
)

// A wagraph killed with SIGKILL at any point of its migrations never keeps
// the next one from migrating: the migration lock dies with its holder (it
// used to be a bun_migration_locks row, left behind by 9 kills in 150, after
// which every start hung without a word). Each round kills `wagraph migrate`
// on a fresh database at a later moment, then migrates again.
func TestKilledMigrationNeverBlocksTheNext(t *testing.T) {
	bin := buildWagraph(t)
	for _, d := range storetest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			for round := range 6 {
				dbURL := storetest.URL(t, d)
				env := append(baseEnv(), "DATABASE_URL="+dbURL, "LOG_FORMAT=json", "LOG_LEVEL=info")

				killed := exec.Command(bin, "migrate")
				killed.Env = env
				if err := killed.Start(); err != nil {
					t.Fatal(err)
				}
				killAt := time.Duration(round) * 60 * time.Millisecond
				timer := time.AfterFunc(killAt, func() { _ = killed.Process.Kill() })
				_ = killed.Wait()
				timer.Stop()

				ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
				next := exec.CommandContext(ctx, bin, "migrate")
				next.Env = env
				var stderr bytes.Buffer
				next.Stderr = &stderr
				err := next.Run()
				cancel()
				if err != nil || !strings.Contains(stderr.String(), "migrations done") {
					t.Fatalf("round %d (killed after %s): the next migrate: %v\n%s", round, killAt, err, stderr.String())
				}
				if strings.Contains(stderr.String(), "waiting for the migration lock") {
					t.Fatalf("round %d: the next migrate waited for a lock whose holder was dead:\n%s", round, stderr.String())
				}
				t.Logf("round %d: killed after %s, next migrate ok", round, killAt)
			}
		})
	}
}
