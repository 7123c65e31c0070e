package testenv

import (
	"bufio"
	"io"
	"net"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// RedisProcess is a redis-server of a test's own, on a free loopback port,
// without persistence. The test can kill it and start it again on the same
// address, as a crash and restart would.
type RedisProcess struct {
	// Addr is host:port; it stays the same across restarts.
	Addr   string
	bin    string
	cmd    *exec.Cmd
	exited chan struct{}
}

// StartRedis starts redis-server (skipping the test when it is not
// installed, failing it in CI) and stops it when the test ends.
func StartRedis(t testing.TB) *RedisProcess {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	r := &RedisProcess{Addr: addr, bin: LookPath(t, "redis-server")}
	r.Start(t)
	t.Cleanup(func() { r.Kill(t) })
	return r
}

// URL is the redis:// URL of the server.
func (r *RedisProcess) URL() string { return "redis://" + r.Addr + "/0" }

// Start runs the server (again) and returns once it accepts connections.
func (r *RedisProcess) Start(t testing.TB) {
	t.Helper()
	host, port, _ := net.SplitHostPort(r.Addr)
	cmd := exec.Command(r.bin, "--bind", host, "--port", port, "--save", "", "--appendonly", "no")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start redis-server: %v", err)
	}
	exited := make(chan struct{})
	ready := make(chan struct{})
	go func() {
		lines := bufio.NewScanner(out)
		for lines.Scan() {
			if strings.Contains(lines.Text(), "Ready to accept connections") {
				close(ready)
				break
			}
		}
		_, _ = io.Copy(io.Discard, out) // keep the server from blocking on its log
		_ = cmd.Wait()
		close(exited)
	}()
	r.cmd, r.exited = cmd, exited
	select {
	case <-ready:
	case <-exited:
		t.Fatalf("redis-server on %s exited before it was ready", r.Addr)
	case <-time.After(10 * time.Second):
		t.Fatalf("redis-server on %s not ready within 10s", r.Addr)
	}
}

// Kill stops the server the hard way, as a crash would, and waits for it to
// exit. Killing a stopped server does nothing.
func (r *RedisProcess) Kill(t testing.TB) {
	t.Helper()
	select {
	case <-r.exited:
		return
	default:
	}
	_ = r.cmd.Process.Kill()
	select {
	case <-r.exited:
	case <-time.After(10 * time.Second):
		t.Fatal("redis-server did not exit after SIGKILL")
	}
}

// Pause stops the server with SIGSTOP, as a hung host or a network partition
// would look: connections stay open and new ones are accepted by the kernel,
// but nothing is answered. Resume continues it; a test that pauses registers
// Resume as a cleanup, so that the final SIGKILL finds a running process.
func (r *RedisProcess) Pause(t testing.TB) {
	t.Helper()
	if r.stopped() {
		t.Fatal("pause redis-server: it is not running")
	}
	if err := r.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatalf("pause redis-server: %v", err)
	}
}

// Resume continues a server stopped by Pause. Resuming a server that is
// not paused, or not running, does nothing.
func (r *RedisProcess) Resume(t testing.TB) {
	t.Helper()
	if r.stopped() {
		return
	}
	if err := r.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatalf("resume redis-server: %v", err)
	}
}

// stopped reports whether the server process has exited.
func (r *RedisProcess) stopped() bool {
	select {
	case <-r.exited:
		return true
	default:
		return false
	}
}
