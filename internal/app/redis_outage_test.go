package app_test

import (
	"fmt"
	"testing"
	"time"

	"wagraph/internal/apptest"
	"wagraph/internal/auth"
	"wagraph/internal/testenv"
)

// TestMutationsDuringRedisOutage: when Redis stops answering, mutations are
// committed without each waiting seconds for its events' publishes (it was
// up to 3.5 s per mutation, and 10 s with a hung Redis): the first waits
// PUBSUB_PUBLISH_TIMEOUT, the rest do not wait at all.
func TestMutationsDuringRedisOutage(t *testing.T) {
	redisServer := testenv.StartRedis(t)
	t.Cleanup(func() { redisServer.Resume(t) })
	s := apptest.Start(t, apptest.Env{"REDIS_URL": redisServer.URL(), "PUBSUB_PUBLISH_TIMEOUT": "200ms"})
	op := s.Client(apptest.Bearer(s.Token(t, auth.Operator)))
	create := func(name string) {
		t.Helper()
		apptest.Post(t, op, fmt.Sprintf(`mutation { createAccount(input: {name: %q}) { account { id } } }`, name)).NoErrors(t)
	}
	create("before the outage")

	redisServer.Pause(t)
	const n, budget = 10, 3 * time.Second
	start := time.Now()
	for i := range n {
		create(fmt.Sprintf("during the outage %d", i))
		if took := time.Since(start); took > budget {
			t.Fatalf("%d mutations during the Redis outage took %s: each waits for Redis", i+1, took)
		}
	}
	data := apptest.Post(t, op, `{ accounts(first: 100) { totalCount } }`).NoErrors(t)
	if got := apptest.Path(data, "accounts", "totalCount"); got != float64(n+1) {
		t.Fatalf("totalCount %v, want %d: the mutations were not committed", got, n+1)
	}
}
