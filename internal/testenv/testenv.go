// Package testenv tells tests where the real Postgres and Redis are. Locally a
// test that needs one skips when it is not configured; in CI (CI set) it fails,
// so a missing service can never turn into a silently green run.
package testenv

import (
	"os"
	"testing"
)

// PostgresURL returns TEST_DATABASE_URL, a Postgres URL whose user may create
// databases.
func PostgresURL(t testing.TB) string { return need(t, "TEST_DATABASE_URL", "Postgres") }

// RedisURL returns REDIS_URL.
func RedisURL(t testing.TB) string { return need(t, "REDIS_URL", "Redis") }

// InCI reports whether the tests run in CI, where every service must be present.
func InCI() bool { return os.Getenv("CI") != "" }

func need(t testing.TB, env, what string) string {
	t.Helper()
	v := os.Getenv(env)
	if v != "" {
		return v
	}
	if InCI() {
		t.Fatalf("%s is required in CI: set %s (.ci/run starts %s and exports it)", env, env, what)
	}
	t.Skipf("%s not set: skipping the %s test (set it to run against a real %s)", env, what, what)
	return ""
}
