//go:build unix

package app_test

import (
	"syscall"
	"testing"
)

// raiseFileLimit lifts the open-files limit to its hard maximum and fails
// the test when that is still below need: each websocket held in a test is
// two sockets (client and server side) in this process.
func raiseFileLimit(t *testing.T, need uint64) {
	t.Helper()
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatalf("read the open-files limit: %v", err)
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			t.Fatalf("raise the open-files limit: %v", err)
		}
	}
	if lim.Cur < need {
		t.Fatalf("the open-files limit is %d, this test needs %d: raise it (ulimit -Hn)", lim.Cur, need)
	}
}
