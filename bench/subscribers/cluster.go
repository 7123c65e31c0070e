package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"wagraph/internal/account"
	"wagraph/internal/app"
	"wagraph/internal/auth"
	"wagraph/internal/config"
	"wagraph/internal/observe"
	"wagraph/internal/pubsub"
	"wagraph/internal/testproc"
)

// cluster is the wagraph instances under test, sharing one database and one
// Redis, with the accounts the events are about.
type cluster struct {
	urls     []string   // each instance's websocket endpoint
	bases    []string   // each server process's http://host:port (none in-process)
	bus      pubsub.Bus // where events are published, as the account service does
	accounts []*account.Account
	token    string // a VIEWER token for the subscribers
	closers  []func()
}

func (c *cluster) close() {
	for i := len(c.closers) - 1; i >= 0; i-- {
		c.closers[i]()
	}
}

// instanceEnv is the configuration of every instance.
func instanceEnv(s settings, dir string) map[string]string {
	return map[string]string{
		"DATABASE_URL": "sqlite:" + filepath.Join(dir, "bench.db"), "REDIS_URL": s.redisURL,
		"LOG_LEVEL": "warn", "LOG_FORMAT": "console", "WS_MAX_SUBSCRIPTIONS": "10",
	}
}

// startInProcess runs the instances inside this process (app.New served on
// loopback, as the server does), so that -cpuprofile and -trace see them.
func startInProcess(ctx context.Context, s settings, dir string) (*cluster, error) {
	c := &cluster{}
	var first *app.App
	for i := range s.instances {
		env := instanceEnv(s, dir)
		cfg, err := config.Load(nil, func(k string) string { return env[k] })
		if err != nil {
			return c, err
		}
		log, err := observe.NewLogger(zerolog.ConsoleWriter{Out: os.Stderr}, cfg.LogLevel, cfg.LogFormat)
		if err != nil {
			return c, err
		}
		a, err := app.New(ctx, cfg, log.With().Int("instance", i).Logger())
		if err != nil {
			return c, err
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			a.Close()
			return c, err
		}
		srv := &http.Server{Handler: a.Handler, ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = srv.Serve(ln) }()
		c.closers = append(c.closers, func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = srv.Shutdown(ctx)
			a.Close()
		})
		c.urls = append(c.urls, "ws://"+ln.Addr().String()+"/graphql")
		if first == nil {
			first = a
		}
	}
	c.bus = first.Bus
	var err error
	if _, c.token, err = first.Auth.Create(ctx, "bench", auth.Viewer); err != nil {
		return c, err
	}
	c.accounts = make([]*account.Account, s.accounts)
	for i := range c.accounts {
		if c.accounts[i], err = first.Accounts.Create(ctx, account.CreateInput{Name: fmt.Sprintf("Bench %d", i)}); err != nil {
			return c, err
		}
	}
	return c, nil
}

// startProcesses runs each instance as a wagraph server process (the binary
// at -bin, or built from this module), so that the servers' CPU and memory
// are their own, as in production. Accounts are created through the API;
// events are published on a Redis bus of this process, as the account
// service of any instance would publish them.
func startProcesses(ctx context.Context, s settings, dir string) (*cluster, error) {
	c := &cluster{}
	bin := s.bin
	if bin == "" {
		bin = filepath.Join(dir, "wagraph")
		if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "wagraph").CombinedOutput(); err != nil {
			return c, fmt.Errorf("go build wagraph (run from the wagraph module, or pass -bin): %v\n%s", err, out)
		}
	}
	// Only what a process needs from this environment: a developer's own
	// wagraph settings must not leak into the instances.
	var env []string
	for _, k := range []string{"PATH", "HOME", "TMPDIR"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	for k, v := range instanceEnv(s, dir) {
		env = append(env, k+"="+v)
	}
	run := func(args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Env = env
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			return "", fmt.Errorf("wagraph %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
		}
		return strings.TrimSpace(string(out)), nil
	}
	if _, err := run("migrate"); err != nil {
		return c, err
	}
	admin, err := run("token", "create", "--role", "ADMIN", "--name", "bench-admin")
	if err != nil {
		return c, err
	}
	if c.token, err = run("token", "create", "--role", "VIEWER", "--name", "bench"); err != nil {
		return c, err
	}
	for range s.instances {
		base, stop, err := startServer(ctx, bin, env)
		if err != nil {
			return c, err
		}
		c.closers = append(c.closers, stop)
		c.bases = append(c.bases, base)
		c.urls = append(c.urls, "ws"+strings.TrimPrefix(base, "http")+"/graphql")
	}
	opts, err := redis.ParseURL(s.redisURL)
	if err != nil {
		return c, err
	}
	client := redis.NewClient(opts)
	bus := pubsub.NewRedis(client, pubsub.Options{})
	c.bus = bus
	c.closers = append(c.closers, func() { _ = bus.Close(); _ = client.Close() })
	c.accounts, err = createAccounts(ctx, c.bases[0], admin, s.accounts)
	return c, err
}

// startServer starts `wagraph` (serve) on a free loopback port and waits
// until it is ready; stop ends it as an operator would (SIGTERM).
func startServer(ctx context.Context, bin string, env []string) (base string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	cmd := exec.Command(bin)
	cmd.Env = append(env, "LISTEN_ADDR="+addr)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr // warnings and errors only (LOG_LEVEL)
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	stop = func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}
	base = "http://" + addr
	deadline := time.Now().Add(30 * time.Second)
	for {
		if resp, err := http.Get(base + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return base, stop, nil
			}
		}
		select {
		case <-exited:
			return "", stop, errors.New("wagraph exited at start (its log is above)")
		case <-ctx.Done():
			stop()
			return "", stop, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			stop()
			return "", stop, errors.New("wagraph not ready within 30s")
		}
	}
}

// createAccounts creates n accounts through the GraphQL API, a few at a
// time.
func createAccounts(ctx context.Context, base, token string, n int) ([]*account.Account, error) {
	accounts := make([]*account.Account, n)
	errs := make(chan error, n)
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for i := range accounts {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			a, err := createAccount(ctx, base, token, fmt.Sprintf("Bench %d", i))
			if err != nil {
				errs <- err
				return
			}
			accounts[i] = a
		}()
	}
	wg.Wait()
	close(errs)
	return accounts, <-errs
}

func createAccount(ctx context.Context, base, token, name string) (*account.Account, error) {
	query := fmt.Sprintf(`mutation { createAccount(input: {name: %q}) { account { id name status version } } }`, name)
	data, err := (&testproc.Server{Base: base}).Post(ctx, token, query)
	if err != nil {
		return nil, fmt.Errorf("createAccount: %w", err)
	}
	raw, err := json.Marshal(data)
	if err != nil {
		return nil, err
	}
	var out struct {
		CreateAccount struct{ Account *account.Account }
	}
	if err := json.Unmarshal(raw, &out); err != nil || out.CreateAccount.Account == nil {
		return nil, fmt.Errorf("createAccount: %v in %s", err, raw)
	}
	return out.CreateAccount.Account, nil
}

// memory reports each server process's resident memory and Go heap in use,
// from its /metrics.
func (c *cluster) memory(ctx context.Context) string {
	var parts []string
	for i, base := range c.bases {
		rss, heap, err := scrapeMemory(ctx, base)
		if err != nil {
			parts = append(parts, fmt.Sprintf("instance %d: %v", i+1, err))
			continue
		}
		parts = append(parts, fmt.Sprintf("instance %d RSS %.0f MB, heap in use %.0f MB", i+1, rss/1e6, heap/1e6))
	}
	return strings.Join(parts, "; ")
}

func scrapeMemory(ctx context.Context, base string) (rss, heap float64, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", nil)
	if err != nil {
		return 0, 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, 0, err
	}
	for line := range strings.Lines(string(body)) {
		name, value, ok := strings.Cut(strings.TrimSpace(line), " ")
		if !ok {
			continue
		}
		switch name {
		case "process_resident_memory_bytes":
			rss, err = strconv.ParseFloat(value, 64)
		case "go_memstats_heap_inuse_bytes":
			heap, err = strconv.ParseFloat(value, 64)
		}
		if err != nil {
			return 0, 0, err
		}
	}
	if rss == 0 || heap == 0 {
		return 0, 0, errors.New("no memory metrics")
	}
	return rss, heap, nil
}
