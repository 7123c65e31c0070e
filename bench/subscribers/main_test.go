package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"wagraph/internal/testenv"
)

// TestMain lets the test binary be the floor's server process too, as the
// benchmark's own binary is (floorProcess).
func TestMain(m *testing.M) {
	if config := os.Getenv(floorServerEnv); config != "" {
		os.Exit(floorServerMain(config))
	}
	os.Exit(m.Run())
}

// The benchmark runs end to end on a small scale. It checks that every event
// arrives and that the profiles are written, not how fast: timings are for
// people to read (docs/benchmarks.md).
func TestBenchmarkRuns(t *testing.T) {
	redisURL := testenv.RedisURL(t)
	for _, instances := range []string{"1", "2"} {
		dir := t.TempDir()
		var out, errs bytes.Buffer
		args := []string{"-inprocess", "-n", "4", "-instances", instances, "-events", "5", "-rate", "100", "-burst", "3", "-redis", redisURL,
			"-cpuprofile", filepath.Join(dir, "cpu.prof"), "-trace", filepath.Join(dir, "trace.out")}
		if code := command(args, &out, &errs); code != 0 {
			t.Fatalf("%s instance(s): exit %d\n%s%s", instances, code, out.String(), errs.String())
		}
		for _, want := range []string{
			"paced: delivered 20 of 20 (0 missing, 0 subscriptions ended early)", "publish→receive  p50", "redis floor",
			"burst: delivered 12 of 12 (0 missing, 0 subscriptions ended early)",
		} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("%s instance(s): output lacks %q:\n%s", instances, want, out.String())
			}
		}
		for _, f := range []string{"cpu.prof", "trace.out"} {
			if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
				t.Errorf("%s: %v", f, err)
			}
		}
	}
}

// With account pages, each event reaches its account's followers and every
// list subscriber. This run starts the instances as wagraph server
// processes, built from this module: 5 events over 3 accounts (0 1 2 0 1) give the list
// subscriber 5 and the pages of accounts 0, 1, 2 two, two and one; the burst
// (2 0 1) one each.
func TestBenchmarkSpreadsEventsOverAccounts(t *testing.T) {
	redisURL := testenv.RedisURL(t)
	var out, errs bytes.Buffer
	args := []string{"-n", "4", "-accounts", "3", "-list", "1", "-instances", "2", "-events", "5", "-rate", "100", "-burst", "3", "-redis", redisURL}
	if code := command(args, &out, &errs); code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out.String(), errs.String())
	}
	for _, want := range []string{
		"on 2 wagraph server processes: 1 follow every account, 3 follow one of 3 accounts",
		"paced: delivered 10 of 10 (0 missing, 0 subscriptions ended early)", "account list   p50", "account pages  p50",
		"burst: delivered 6 of 6 (0 missing, 0 subscriptions ended early)",
		"server memory: instance 1 RSS", "instance 2 RSS",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestBenchmarkRefusesBadFlags(t *testing.T) {
	for _, args := range [][]string{{"-instances", "3"}, {"-n", "0"}, {"-accounts", "0"}, {"-cpuprofile", "cpu.prof"}, {"-rate", "0"}, {"-nope"}} {
		var out, errs bytes.Buffer
		if code := command(args, &out, &errs); code != 2 || errs.Len() == 0 {
			t.Errorf("%v: exit %d, stderr %q; want 2 with a message", args, code, errs.String())
		}
	}
	// A Redis that is not there fails the run with a message.
	var out, errs bytes.Buffer
	if code := command([]string{"-n", "1", "-events", "1", "-redis", "redis://127.0.0.1:1/0"}, &out, &errs); code != 1 ||
		!strings.Contains(errs.String(), "redis floor") {
		t.Errorf("unreachable Redis: exit %d, stderr %q", code, errs.String())
	}
}
