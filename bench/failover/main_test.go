package main

import (
	"strings"
	"testing"
	"time"

	"wagraph/internal/testenv"
	"wagraph/internal/testproc"
)

// The benchmark's loop, short: three instances share 9 accounts linked
// through them, the busiest is killed with SIGKILL, and its accounts are
// ACTIVE on the other two with no replaced stream; the report says so.
func TestFailoverOfTheBusiestInstance(t *testing.T) {
	testenv.LookPath(t, "go")
	admin := testenv.PostgresURL(t)
	redis := testenv.StartRedis(t)
	bin, err := testproc.Build(t.Context(), "../..", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	err = measure(t.Context(), options{Bin: bin, RedisURL: redis.URL(), Accounts: 9, Instances: 3, LinkConcurrency: 3,
		LeaseTTL: 3 * time.Second, RenewInterval: time.Second, RestoreConcurrency: 4, Limit: 2 * time.Minute,
		Progress: t.Logf}, admin, 30*time.Second, &out)
	t.Log("\n" + out.String())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"linked and ACTIVE:", "kill -9 of failover-", "ACTIVE elsewhere after:", "all ACTIVE elsewhere within 30s:", "yes (", "spread after:", ", 0 replaced streams"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q", want)
		}
	}
}
