//go:build unix

package main

import (
	"fmt"
	"syscall"
)

// raiseFileLimit lifts the open-files limit to its hard maximum: each
// subscriber holds two sockets (client and server side) in this process.
func raiseFileLimit() error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("read the open-files limit: %w", err)
	}
	lim.Cur = lim.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("raise the open-files limit: %w", err)
	}
	return nil
}
