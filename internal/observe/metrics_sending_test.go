package observe_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"wagraph/internal/account"
	"wagraph/internal/observe"
	"wagraph/internal/sending"
)

func TestSendingMetrics(t *testing.T) {
	m := observe.NewMetrics()
	paused := map[sending.PauseReason]int{sending.PauseTemporaryBan: 2}
	var countErr error
	s := m.Sending(func(context.Context) (map[sending.PauseReason]int, error) { return paused, countErr })
	m.AccountStatuses(func(context.Context) (map[account.Status]int, error) {
		return map[account.Status]int{account.StatusActive: 3}, nil
	})
	s.Decision(true, "")
	s.Decision(false, sending.WindowMinute)
	s.Decision(false, sending.WindowMinute)
	s.Paused(sending.PauseReachoutTimelock)
	out := scrape(t, m)
	for _, want := range []string{
		`wagraph_send_decisions_total{outcome="admitted",window="none"} 1`,
		`wagraph_send_decisions_total{outcome="refused",window="minute"} 2`,
		`wagraph_send_decisions_total{outcome="refused",window="paused"} 0`,
		`wagraph_send_pauses_total{reason="REACHOUT_TIMELOCK"} 1`,
		`wagraph_send_pauses_total{reason="FAILURE_BURST"} 0`,
		`wagraph_send_paused_accounts{reason="TEMPORARY_BAN"} 2`,
		`wagraph_send_paused_accounts{reason="MANUAL"} 0`,
		`wagraph_accounts{status="ACTIVE"} 3`,
		`wagraph_accounts{status="FAILED"} 0`,
	} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	countErr = errors.New("database down")
	if out := scrape(t, m); strings.Contains(out, "wagraph_send_paused_accounts{") {
		t.Error("paused accounts reported although they could not be counted")
	}
}
