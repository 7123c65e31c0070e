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
// ACTIVE on the other two with no replaced stream; then all stop and three
// new ones start together and run the 9 again, 3 each. The report says so.
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
		LeaseTTL: 3 * time.Second, RenewInterval: time.Second, RestoreConcurrency: 4, Limit: 2 * time.Minute, ColdStart: true,
		Progress: t.Logf}, admin, 30*time.Second, &out)
	t.Log("\n" + out.String())
	if err != nil {
		t.Fatal(err)
	}
	if res := lastSpread(out.String()); res != "3 3 3" {
		t.Errorf("cold start spread %q, want 3 on each instance", res)
	}
	for _, want := range []string{"linked and ACTIVE:", "kill -9 of failover-", "ACTIVE elsewhere after:", "all ACTIVE elsewhere within 30s:", "yes (", "spread after:", "cold start: every instance stopped", "all ACTIVE again after:", ", 0 replaced streams"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q", want)
		}
	}
}

// lastSpread is the counts of the report's last spread line, in order.
func lastSpread(report string) string {
	var last string
	for line := range strings.Lines(report) {
		if strings.Contains(line, "spread:") {
			last = line
		}
	}
	var counts []string
	for part := range strings.SplitSeq(last[strings.Index(last, ":")+1:], ",") {
		if f := strings.Fields(part); len(f) == 2 {
			counts = append(counts, f[1])
		}
	}
	return strings.Join(counts, " ")
}
