//go:build !unix

package app_test

import "testing"

// raiseFileLimit has nothing to raise outside unix.
func raiseFileLimit(*testing.T, uint64) {}
