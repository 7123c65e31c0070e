package testenv

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
)

// recorder is a testing.TB that records how a helper stopped the test.
type recorder struct {
	testing.TB
	skipped, failed string
}

func (r *recorder) Helper() {}

func (r *recorder) Skipf(format string, args ...any) {
	r.skipped = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.failed = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// call runs get the way a test would, in its own goroutine so that Skipf and
// Fatalf can end it.
func call(t *testing.T, get func(testing.TB) string) (value string, r *recorder) {
	r = &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		value = get(r)
	}()
	<-done
	return value, r
}

func TestHelpers(t *testing.T) {
	helpers := []struct {
		env string
		get func(testing.TB) string
	}{
		{"REDIS_URL", RedisURL},
		{"TEST_DATABASE_URL", PostgresURL},
	}
	for _, h := range helpers {
		t.Run(h.env, func(t *testing.T) {
			t.Run("set", func(t *testing.T) {
				t.Setenv(h.env, "scheme://somewhere")
				t.Setenv("CI", "true")
				v, r := call(t, h.get)
				if v != "scheme://somewhere" || r.skipped != "" || r.failed != "" {
					t.Fatalf("got %q skipped=%q failed=%q, want the value", v, r.skipped, r.failed)
				}
			})
			t.Run("unset locally skips", func(t *testing.T) {
				t.Setenv(h.env, "")
				t.Setenv("CI", "")
				_, r := call(t, h.get)
				if r.skipped == "" || r.failed != "" {
					t.Fatalf("skipped=%q failed=%q, want a skip", r.skipped, r.failed)
				}
			})
			t.Run("unset in CI fails", func(t *testing.T) {
				t.Setenv(h.env, "")
				t.Setenv("CI", "true")
				_, r := call(t, h.get)
				if r.failed != h.env+" required in CI" || r.skipped != "" {
					t.Fatalf("skipped=%q failed=%q, want %q", r.skipped, r.failed, h.env+" required in CI")
				}
			})
		})
	}
}

func TestLookPath(t *testing.T) {
	lookGo := func(tb testing.TB) string { return LookPath(tb, "go") }
	if v, r := call(t, lookGo); !strings.HasSuffix(v, "go") || r.skipped != "" || r.failed != "" {
		t.Fatalf("LookPath(go) = %q skipped=%q failed=%q", v, r.skipped, r.failed)
	}

	lookNone := func(tb testing.TB) string { return LookPath(tb, "wagraph-no-such-binary") }
	t.Setenv("CI", "")
	if _, r := call(t, lookNone); r.skipped == "" || r.failed != "" {
		t.Fatalf("locally: skipped=%q failed=%q, want a skip", r.skipped, r.failed)
	}
	t.Setenv("CI", "1")
	if _, r := call(t, lookNone); r.failed == "" || r.skipped != "" {
		t.Fatalf("in CI: skipped=%q failed=%q, want a failure", r.skipped, r.failed)
	}
}
