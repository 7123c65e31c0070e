package app

import (
	"testing"
	"time"
)

// A scrape run may take 10 minutes, but never as long as JOB_RESCUE_AFTER:
// River would take the live run for stuck and start a second one.
func TestScrapeJobTimeoutStaysBelowTheRescueDelay(t *testing.T) {
	for _, tc := range []struct{ rescueAfter, want time.Duration }{
		{0, 10 * time.Minute}, // River's default rescue delay, one hour
		{15 * time.Minute, 10 * time.Minute},
		{time.Hour, 10 * time.Minute},
		{6 * time.Minute, 4 * time.Minute},
		{3 * time.Second, 2 * time.Second},
	} {
		if got := scrapeJobTimeout(tc.rescueAfter); got != tc.want {
			t.Errorf("JOB_RESCUE_AFTER %v: scrape job timeout %v, want %v", tc.rescueAfter, got, tc.want)
		}
	}
}
