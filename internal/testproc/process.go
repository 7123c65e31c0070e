// Package testproc runs the built wagraph binary as operators do: server
// instances with their environment and the shared WhatsApp simulator
// (`wagraph simulator`), each in a process of its own. The end-to-end tests
// (e2e) and the benchmarks of several instances (bench/failover) start, kill
// and query them through it.
package testproc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Build builds the wagraph binary of the module at moduleDir into dir and
// returns its path.
func Build(ctx context.Context, moduleDir, dir string) (string, error) {
	bin := filepath.Join(dir, "wagraph")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, ".")
	cmd.Dir = moduleDir
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build wagraph: %w\n%s", err, out)
	}
	return bin, nil
}

// Env is what a process needs from the caller's environment; wagraph's own
// settings come only from the caller, so a developer's REDIS_URL cannot
// leak in.
func Env() []string {
	var env []string
	for _, k := range []string{"PATH", "HOME", "TMPDIR"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// Command runs a wagraph subcommand (migrate, token create, ...) to
// completion with env and returns its stdout.
func Command(ctx context.Context, bin string, env []string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(Env(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("wagraph %s: %w\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String(), nil
}

// Log collects a process's output and tells when it grows.
type Log struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	signal chan struct{}
}

func (b *Log) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.signal != nil {
		close(b.signal)
		b.signal = nil
	}
	return b.buf.Write(p)
}

func (b *Log) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Grown is closed by the next write.
func (b *Log) Grown() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.signal == nil {
		b.signal = make(chan struct{})
	}
	return b.signal
}

// Server is a running `wagraph serve`.
type Server struct {
	// Base is its HTTP address, http://127.0.0.1:port.
	Base string
	// Logs is everything it wrote, stdout and stderr.
	Logs   *Log
	cmd    *exec.Cmd
	exited chan struct{}
}

// StartServer runs the binary with env (LISTEN_ADDR added: a free port)
// and returns once it logged that it is up (LOG_FORMAT=json expected), or
// an error with its output when it exits first or wait passes.
func StartServer(ctx context.Context, bin string, env []string, wait time.Duration) (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	s := &Server{Base: "http://" + addr, Logs: &Log{}, exited: make(chan struct{})}
	cmd := exec.Command(bin)
	s.cmd = cmd
	cmd.Env = append(append(Env(), env...), "LISTEN_ADDR="+addr)
	cmd.Stdout, cmd.Stderr = s.Logs, s.Logs
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	go func() {
		_ = cmd.Wait()
		close(s.exited)
	}()
	if err := s.WaitLog(ctx, wait, `"message":"wagraph is up"`); err != nil {
		_ = s.Kill()
		return nil, fmt.Errorf("wagraph on %s did not start: %w", addr, err)
	}
	return s, nil
}

// Exited is closed once the process ended.
func (s *Server) Exited() <-chan struct{} { return s.exited }

// Pid is the process id.
func (s *Server) Pid() int { return s.cmd.Process.Pid }

// Stop sends SIGTERM (the server drains) and waits up to wait for the exit;
// then it kills the process and says so.
func (s *Server) Stop(wait time.Duration) error {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
		return nil
	case <-time.After(wait):
		_ = s.cmd.Process.Kill()
		<-s.exited
		return fmt.Errorf("wagraph on %s did not stop within %s of SIGTERM; killed", s.Base, wait)
	}
}

// Kill is kill -9: the process ends without draining. It returns once the
// process is gone.
func (s *Server) Kill() error {
	err := s.cmd.Process.Kill()
	<-s.exited
	if errors.Is(err, os.ErrProcessDone) {
		return nil
	}
	return err
}

// WaitLog waits until the output holds every one of parts on one line.
func (s *Server) WaitLog(ctx context.Context, wait time.Duration, parts ...string) error {
	timeout := time.After(wait)
	for {
		grown := s.Logs.Grown()
		for line := range strings.Lines(s.Logs.String()) {
			if containsAll(line, parts) {
				return nil
			}
		}
		select {
		case <-s.exited:
			return fmt.Errorf("wagraph exited before logging %q:\n%s", parts, s.Logs)
		case <-timeout:
			return fmt.Errorf("wagraph did not log %q within %s:\n%s", parts, wait, s.Logs)
		case <-ctx.Done():
			return ctx.Err()
		case <-grown:
		}
	}
}

func containsAll(s string, parts []string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}
