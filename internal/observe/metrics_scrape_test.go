package observe_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"wagraph/internal/contact"
	"wagraph/internal/observe"
)

func TestScrapeMetricsAreExported(t *testing.T) {
	m := observe.NewMetrics()
	var countErr error
	s := m.Scrapes(func(context.Context) (map[contact.ScrapeState]int, error) {
		return map[contact.ScrapeState]int{contact.ScrapeRunning: 2, contact.ScrapeDone: 5}, countErr
	})
	s.WhatsAppCall("group_info", nil)
	s.WhatsAppCall("group_info", fmt.Errorf("wrapped: %w", contact.ErrRateLimited))
	s.WhatsAppCall("joined_groups", errors.New("boom"))
	s.MembersScraped(7)
	s.ScrapeFinished(contact.ScrapeDone)
	body := scrape(t, m)
	for _, want := range []string{
		`wagraph_scrape_whatsapp_calls_total{call="group_info",result="ok"} 1`,
		`wagraph_scrape_whatsapp_calls_total{call="group_info",result="rate_limited"} 1`,
		`wagraph_scrape_whatsapp_calls_total{call="joined_groups",result="error"} 1`,
		"wagraph_scrape_members_total 7",
		`wagraph_scrape_jobs_finished_total{state="DONE"} 1`,
		`wagraph_scrape_jobs{state="RUNNING"} 2`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	countErr = errors.New("database down")
	if body := scrape(t, m); strings.Contains(body, "wagraph_scrape_jobs{") {
		t.Errorf("gauge reported while its count fails")
	}
}
