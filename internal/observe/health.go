package observe

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// Check is one dependency the server needs.
type Check struct {
	Name  string
	Check func(ctx context.Context) error
}

// ComponentStatus is the result of one Check.
type ComponentStatus struct {
	Name      string  `json:"name"`
	Up        bool    `json:"-"`
	Status    string  `json:"status"`
	Error     string  `json:"error,omitempty"`
	LatencyMs float64 `json:"latencyMs"`
}

// Report is the server's readiness: every component and the overall verdict.
type Report struct {
	Status        string            `json:"status"`
	Version       string            `json:"version"`
	UptimeSeconds int               `json:"uptimeSeconds"`
	Components    []ComponentStatus `json:"components"`
}

// Up reports whether every component is up.
func (r Report) Up() bool { return r.Status == "UP" }

// WithoutDetails returns r with the components' error texts removed. Those
// name dial addresses, users and drivers: they are for operators (the log,
// authenticated callers), not for whoever can reach /readyz.
func (r Report) WithoutDetails() Report {
	comps := make([]ComponentStatus, len(r.Components))
	for i, c := range r.Components {
		c.Error = ""
		comps[i] = c
	}
	r.Components = comps
	return r
}

// Health runs the readiness checks behind /readyz and the `health` query.
type Health struct {
	checks  []Check
	version string
	started time.Time
	timeout time.Duration

	log  *zerolog.Logger // nil: changes are not logged
	mu   sync.Mutex
	down map[string]bool // by component, as of the latest report
}

// NewHealth returns a Health over checks; each check gets timeout.
func NewHealth(version string, timeout time.Duration, checks ...Check) *Health {
	return &Health{checks: checks, version: version, started: time.Now(), timeout: timeout}
}

// LogChanges makes Report log each component that goes down, with its
// error, and each that comes back up: the details that unauthenticated
// callers do not see.
func (h *Health) LogChanges(log zerolog.Logger) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.log = &log
}

// Add registers another check.
func (h *Health) Add(c Check) { h.checks = append(h.checks, c) }

// Report runs every check concurrently.
func (h *Health) Report(ctx context.Context) Report {
	out := make([]ComponentStatus, len(h.checks))
	var wg sync.WaitGroup
	for i, c := range h.checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, h.timeout)
			defer cancel()
			start := time.Now()
			err := c.Check(cctx)
			st := ComponentStatus{Name: c.Name, Up: err == nil, Status: "UP", LatencyMs: float64(time.Since(start).Microseconds()) / 1000}
			if err != nil {
				st.Status, st.Error = "DOWN", err.Error()
			}
			out[i] = st
		}()
	}
	wg.Wait()
	rep := Report{Status: "UP", Version: h.version, UptimeSeconds: int(time.Since(h.started).Seconds()), Components: out}
	for _, c := range out {
		if !c.Up {
			rep.Status = "DOWN"
		}
	}
	h.logChanges(out)
	return rep
}

// logChanges logs the components whose state differs from the last report.
func (h *Health) logChanges(comps []ComponentStatus) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.log == nil {
		return
	}
	if h.down == nil {
		h.down = make(map[string]bool)
	}
	for _, c := range comps {
		was, known := h.down[c.Name]
		h.down[c.Name] = !c.Up
		switch {
		case !c.Up && !was:
			h.log.Warn().Str("component", c.Name).Str("error", c.Error).Msg("dependency down")
		case c.Up && was && known:
			h.log.Info().Str("component", c.Name).Msg("dependency up again")
		}
	}
}

// LiveHandler serves /healthz: the process is alive and serving HTTP.
func (h *Health) LiveHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"status": "UP", "version": h.version, "uptimeSeconds": int(time.Since(h.started).Seconds())})
	})
}

// ReadyHandler serves /readyz: 200 when every dependency is up, 503 otherwise.
// The components' error texts are shown only when details reports true for
// the request (an authenticated caller); nil shows them to nobody.
func (h *Health) ReadyHandler(details func(*http.Request) bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rep := h.Report(r.Context())
		code := http.StatusOK
		if !rep.Up() {
			code = http.StatusServiceUnavailable
		}
		if details == nil || !details(r) {
			rep = rep.WithoutDetails()
		}
		writeJSON(w, code, rep)
	})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
