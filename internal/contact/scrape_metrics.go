package contact

import (
	"context"
	"sync"
	"time"
)

// ScrapeMetrics receives the scrape counters; the server wires it to
// Prometheus (internal/observe), tests and the default use
// NopScrapeMetrics. Labels are bounded: call names and job states are
// fixed sets. Implementations must be safe for concurrent use.
type ScrapeMetrics interface {
	// WhatsAppCall counts one group call to WhatsApp ("joined_groups",
	// "group_info") and its result (err nil, ErrRateLimited, other).
	WhatsAppCall(call string, err error)
	// MembersScraped counts group members written to the contact base.
	MembersScraped(n int)
	// ScrapeFinished counts a job that reached a final state.
	ScrapeFinished(state ScrapeState)
}

// NopScrapeMetrics counts nothing.
type NopScrapeMetrics struct{}

func (NopScrapeMetrics) WhatsAppCall(string, error) {}
func (NopScrapeMetrics) MembersScraped(int)         {}
func (NopScrapeMetrics) ScrapeFinished(ScrapeState) {}

// CountScrapes returns how many scrape jobs there are in each state, for
// the scrape jobs gauge.
func (g *GroupService) CountScrapes(ctx context.Context) (map[ScrapeState]int, error) {
	var rows []struct {
		State string `bun:"state"`
		N     int    `bun:"n"`
	}
	err := g.db.NewSelect().Table("scrape_jobs").Column("state").ColumnExpr("COUNT(*) AS n").Group("state").Scan(ctx, &rows)
	if err != nil {
		return nil, err
	}
	out := make(map[ScrapeState]int, len(ScrapeStates))
	for _, s := range ScrapeStates {
		out[s] = 0
	}
	for _, r := range rows {
		out[ScrapeState(r.State)] = r.N
	}
	return out, nil
}

// pacer spaces one account's calls to WhatsApp by at least interval, in
// this process: each caller reserves the next free slot, then waits for it.
type pacer struct {
	interval time.Duration
	mu       sync.Mutex
	next     map[string]time.Time
}

func newPacer(interval time.Duration) *pacer {
	return &pacer{interval: interval, next: map[string]time.Time{}}
}

// wait blocks until the account may make its next call, or ctx ends.
func (p *pacer) wait(ctx context.Context, accountID string) error {
	p.mu.Lock()
	now := time.Now()
	at := p.next[accountID]
	if at.Before(now) {
		at = now
	}
	p.next[accountID] = at.Add(p.interval)
	p.mu.Unlock()
	d := time.Until(at)
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// holdOff makes the account's next call wait at least d (after a
// rate-overlimit answer).
func (p *pacer) holdOff(accountID string, d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if at := time.Now().Add(d); at.After(p.next[accountID]) {
		p.next[accountID] = at
	}
}
