// Package testenv tells tests where the real services they need are, with one
// rule for when they are missing: a developer's machine skips the test, CI
// (env CI non-empty) fails it, so a green CI run has really run everything.
package testenv

import (
	"os"
	"os/exec"
	"testing"
)

// RedisURL returns env REDIS_URL (for example redis://127.0.0.1:6379/0).
// Tests sharing it should use distinct key prefixes so they can run in
// parallel.
func RedisURL(t testing.TB) string {
	t.Helper()
	return require(t, "REDIS_URL")
}

// PostgresURL returns env TEST_DATABASE_URL, a Postgres database the test may
// write to.
func PostgresURL(t testing.TB) string {
	t.Helper()
	return require(t, "TEST_DATABASE_URL")
}

// LookPath returns the path of the executable name (say "redis-server") for
// tests that start their own server.
func LookPath(t testing.TB, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		missing(t, name+" executable ("+err.Error()+")")
	}
	return path
}

func require(t testing.TB, env string) string {
	t.Helper()
	v := os.Getenv(env)
	if v == "" {
		missing(t, env)
	}
	return v
}

// missing skips the test, or fails it in CI. Either way the test stops.
func missing(t testing.TB, what string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("%s required in CI", what)
	}
	t.Skipf("%s not set; skipping (CI fails instead)", what)
}
