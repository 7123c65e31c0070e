package main

import (
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"wagraph/internal/store/storetest"
	"wagraph/internal/wasim"
)

// rootKey signs every simulator of this test binary: whatsmeow trusts one
// certificate root per process.
var rootKey = wasim.NewRootKey()

// The benchmark's loop, short: three accounts in a row reach ACTIVE with
// the number of the simulated phone that scanned, on each database.
func TestPairingsInARow(t *testing.T) {
	for _, dialect := range storetest.Dialects {
		t.Run(string(dialect), func(t *testing.T) {
			results, err := run(t.Context(), options{
				N: 3, DatabaseURL: storetest.URL(t, dialect), Limit: 30 * time.Second, RootKey: rootKey,
				Log: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel),
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(results) != 3 {
				t.Fatalf("%d results, want 3", len(results))
			}
			seen := map[string]bool{}
			for i, p := range results {
				if !p.ok() || !strings.HasPrefix(p.Phone, "+1555") || seen[p.Phone] {
					t.Errorf("pairing %d: %+v; want ACTIVE with a fresh simulated number", i+1, p)
				}
				if p.ToPhone > p.ToActive {
					t.Errorf("pairing %d: phone number after ACTIVE (%v > %v)", i+1, p.ToPhone, p.ToActive)
				}
				seen[p.Phone] = true
			}
			var out strings.Builder
			report(&out, results, 30*time.Second, time.Second)
			for _, want := range []string{"scan → ACTIVE", "with the phone number:            3/3 (100%)", "ACTIVE within 30s:  3/3 (100%)"} {
				if !strings.Contains(out.String(), want) {
					t.Errorf("report lacks %q:\n%s", want, out.String())
				}
			}
		})
	}
}

// The program's output: a line per pairing with -v, then the report.
func TestMeasureReports(t *testing.T) {
	var out strings.Builder
	opts := options{N: 2, Limit: 30 * time.Second, RootKey: rootKey, Log: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)}
	if err := measure(t.Context(), opts, true, &out); err != nil {
		t.Fatalf("measure: %v\n%s", err, out.String())
	}
	for _, want := range []string{"2 in a row, SQLite", "   1  start ", "   2  start ", "+1555", "ACTIVE within 30s:  2/2 (100%)"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if err := measure(t.Context(), options{N: 0}, false, &out); err == nil {
		t.Error("measure accepted -n 0")
	}
}

func TestPercentile(t *testing.T) {
	ds := make([]time.Duration, 100)
	for i := range ds {
		ds[i] = time.Duration(i+1) * time.Millisecond
	}
	for p, want := range map[int]time.Duration{50: 50 * time.Millisecond, 90: 90 * time.Millisecond, 99: 99 * time.Millisecond, 100: 100 * time.Millisecond} {
		if got := pct(ds, p); got != want {
			t.Errorf("p%d = %v, want %v", p, got, want)
		}
	}
	if got := pct(ds[:1], 99); got != time.Millisecond {
		t.Errorf("p99 of one = %v", got)
	}
}
