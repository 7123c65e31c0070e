package main

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

// The start message of --simulate tells a new user what to paste into
// GraphiQL; pasted in order, the operations it shows take an account from
// nothing to ACTIVE with a phone number.
func TestServeSimulateGuide(t *testing.T) {
	cleanEnv(t, map[string]string{"DATABASE_URL": tempDB(t), "LISTEN_ADDR": "127.0.0.1:0", "LOG_FORMAT": "json", "SIMULATE_SCAN_DELAY": "200ms"})
	s := startServe(t, "--simulate")
	out := s.stdout.String()
	token := regexp.MustCompile(`wag_[0-9a-f_]+`).FindString(out)
	if token == "" {
		t.Fatalf("first start printed no token:\n%s", out)
	}
	for _, want := range []string{"SIMULATE MODE", s.base + "/graphiql", "console at " + s.base + "/,", "200ms", "docs/simulator.md"} {
		if !strings.Contains(out, want) {
			t.Errorf("start message lacks %q:\n%s", want, out)
		}
	}
	if warn := s.stderr.waitFor(t.Context(), t, "SIMULATE MODE"); !strings.Contains(warn, `"level":"warn"`) {
		t.Errorf("the simulate notice is not a warning: %s", warn)
	}

	ops := guideOperations(out)
	if len(ops) != 4 || !strings.HasPrefix(ops[3], "subscription {") {
		t.Fatalf("found %d operations in the start message, want 3 and a subscription:\n%s", len(ops), out)
	}
	created := s.query(t, token, ops[0])
	id := regexp.MustCompile(`"id":"([^"]+)"`).FindStringSubmatch(mustJSON(created))
	if id == nil {
		t.Fatalf("operation 1 gave %s", mustJSON(created))
	}
	for i, op := range ops {
		ops[i] = strings.ReplaceAll(op, "ACCOUNT_ID", id[1])
	}
	// The subscription is valid GraphQL: over HTTP it is refused only for
	// needing a websocket (validation runs first).
	if got := mustJSON(s.query(t, token, ops[3])); !strings.Contains(got, "websocket") {
		t.Fatalf("operation 4 gave %s, want the refusal that asks for a websocket", got)
	}
	if got := mustJSON(s.query(t, token, ops[1])); !strings.Contains(got, `"status":"AWAITING_SCAN"`) || !strings.Contains(got, `data:image/png;base64,`) {
		t.Fatalf("operation 2 gave %s", got)
	}
	// A user runs operation 3 again, as the message says, until the
	// simulated phone has scanned (the scan delay is 200ms).
	poll := time.NewTicker(100 * time.Millisecond)
	defer poll.Stop()
	timeout := time.After(30 * time.Second)
	for {
		got := mustJSON(s.query(t, token, ops[2]))
		if strings.Contains(got, `"errors"`) {
			t.Fatalf("operation 3 gave %s", got)
		}
		if strings.Contains(got, `"status":"ACTIVE"`) {
			if !regexp.MustCompile(`"phoneNumber":"\+1555\d{7}"`).MatchString(got) {
				t.Errorf("ACTIVE without the simulated phone number: %s", got)
			}
			return
		}
		select {
		case <-poll.C:
		case <-timeout:
			t.Fatalf("not ACTIVE within 30s: %s", got)
		}
	}
}

// guideOperations returns the GraphQL operations of the simulate start
// message: the lines indented by seven or more spaces, joined per operation.
func guideOperations(msg string) []string {
	var ops []string
	var cur []string
	flush := func() {
		if len(cur) > 0 {
			ops = append(ops, strings.Join(cur, "\n"))
			cur = nil
		}
	}
	for line := range strings.Lines(msg) {
		if strings.HasPrefix(line, "       ") && strings.TrimSpace(line) != "" {
			cur = append(cur, strings.TrimSpace(line))
			continue
		}
		flush()
	}
	flush()
	return ops
}
