package testproc

import (
	"bufio"
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"syscall"
	"time"

	"wagraph/internal/simserver"
)

// Simulator is a running `wagraph simulator`; its Client speaks its
// control API (scans, devices, faults).
type Simulator struct {
	*simserver.Client
	// Logs is what it wrote on stderr.
	Logs   *Log
	cmd    *exec.Cmd
	exited chan struct{}
}

var simulatorAddr = regexp.MustCompile(`SIMULATE=(http://\S+)`)

// StartSimulator runs `wagraph simulator` on a free port and returns once
// it printed its address and answers there.
func StartSimulator(ctx context.Context, bin string) (*Simulator, error) {
	cmd := exec.Command(bin, "simulator", "--listen", "127.0.0.1:0", "--log-level", "warn")
	cmd.Env = Env()
	s := &Simulator{Logs: &Log{}, cmd: cmd, exited: make(chan struct{})}
	cmd.Stderr = s.Logs
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s simulator: %w", bin, err)
	}
	lines := make(chan string, 64)
	go func() {
		defer close(lines)
		for sc := bufio.NewScanner(out); sc.Scan(); {
			select {
			case lines <- sc.Text():
			default: // nobody reads once the address is known
			}
		}
	}()
	go func() {
		_ = cmd.Wait() // after the process ended; the reader then sees EOF
		close(s.exited)
	}()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				s.Stop()
				return nil, fmt.Errorf("wagraph simulator exited without its address:\n%s", s.Logs)
			}
			if m := simulatorAddr.FindStringSubmatch(line); m != nil {
				c, err := simserver.Dial(ctx, m[1])
				if err != nil {
					s.Stop()
					return nil, err
				}
				s.Client = c
				return s, nil
			}
		case <-timeout:
			s.Stop()
			return nil, fmt.Errorf("wagraph simulator printed no address within 30s:\n%s", s.Logs)
		case <-ctx.Done():
			s.Stop()
			return nil, ctx.Err()
		}
	}
}

// Stop ends the simulator (SIGTERM, then a kill after 20 s).
func (s *Simulator) Stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(20 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
}
