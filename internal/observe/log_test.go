package observe_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/rs/zerolog"

	"wagraph/internal/observe"
)

// syncBuffer is a log sink safe for concurrent writers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// jsonLines decodes every line of a JSON log.
func jsonLines(t *testing.T, s string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.Lines(s) {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q is not JSON: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

func TestLoggerLevels(t *testing.T) {
	all := []string{"trace", "debug", "info", "warn", "error"}
	for i, level := range all {
		t.Run(level, func(t *testing.T) {
			var buf bytes.Buffer
			log, err := observe.NewLogger(&buf, level, "json")
			if err != nil {
				t.Fatal(err)
			}
			log.Trace().Msg("trace")
			log.Debug().Msg("debug")
			log.Info().Msg("info")
			log.Warn().Msg("warn")
			log.Error().Msg("error")
			var got []string
			for _, l := range jsonLines(t, buf.String()) {
				got = append(got, l["message"].(string))
				if l["time"] == nil || l["level"] != l["message"] {
					t.Errorf("line %v: want a time and its level", l)
				}
			}
			if want := all[i:]; strings.Join(got, ",") != strings.Join(want, ",") {
				t.Errorf("level %s logged %v, want %v", level, got, want)
			}
		})
	}
}

func TestLoggerConsoleFormat(t *testing.T) {
	var buf bytes.Buffer
	log, err := observe.NewLogger(&buf, "info", "console")
	if err != nil {
		t.Fatal(err)
	}
	log.Info().Str("account", "a1").Msg("hello operator")
	out := buf.String()
	if json.Valid([]byte(out)) || !strings.Contains(out, "hello operator") || !strings.Contains(out, "account=") {
		t.Errorf("console output %q: want readable text with the message and fields", out)
	}
}

func TestLoggerRefusesBadSettings(t *testing.T) {
	tests := []struct{ level, format, want string }{
		{"loud", "json", `unknown log level "loud": use trace, debug, info, warn or error`},
		{"", "json", `unknown log level ""`},
		{"info", "xml", `unknown log format "xml": use json or console`},
	}
	for _, tt := range tests {
		_, err := observe.NewLogger(&bytes.Buffer{}, tt.level, tt.format)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("NewLogger(%q, %q) err = %v, want %q", tt.level, tt.format, err, tt.want)
		}
	}
}

var hexID = regexp.MustCompile(`^[0-9a-f]{16}$`)

func TestNewRequestID(t *testing.T) {
	a, b := observe.NewRequestID(), observe.NewRequestID()
	if !hexID.MatchString(a) || a == b {
		t.Errorf("NewRequestID = %q, %q: want two different 16-hex-digit ids", a, b)
	}
}

func TestRequestLogging(t *testing.T) {
	tests := []struct {
		name, sent string
		honoured   bool
	}{
		{"client id", "req-42.retry_1", true},
		{"longest allowed", strings.Repeat("a", 64), true},
		{"none", "", false},
		{"too long", strings.Repeat("a", 65), false},
		{"space", "two words", false},
		{"log injection", "x\n{\"level\":\"error\"}", false},
		{"non-ascii", "ünïcode", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs syncBuffer
			log, err := observe.NewLogger(&logs, "debug", "json")
			if err != nil {
				t.Fatal(err)
			}
			var inHandler string
			h := observe.RequestLogging(log, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				inHandler = observe.RequestID(r.Context())
				zerolog.Ctx(r.Context()).Info().Msg("resolver says hi")
				w.WriteHeader(http.StatusTeapot)
			}))
			req := httptest.NewRequest(http.MethodPost, "/graphql?x=1", nil)
			if tt.sent != "" {
				req.Header.Set("X-Request-ID", tt.sent)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)

			id := rec.Header().Get("X-Request-ID")
			if tt.honoured && id != tt.sent {
				t.Errorf("X-Request-ID = %q, want the client's %q", id, tt.sent)
			}
			if !tt.honoured && !hexID.MatchString(id) {
				t.Errorf("X-Request-ID = %q, want a fresh 16-hex-digit id", id)
			}
			if inHandler != id {
				t.Errorf("RequestID in handler = %q, response header %q", inHandler, id)
			}
			lines := jsonLines(t, logs.String())
			if len(lines) != 2 {
				t.Fatalf("want the handler's line and the access line, got %v", lines)
			}
			for _, l := range lines {
				if l["request_id"] != id {
					t.Errorf("log line %v lacks request_id %q", l, id)
				}
			}
			access := lines[1]
			if access["message"] != "http request" || access["method"] != "POST" || access["path"] != "/graphql" ||
				access["status"] != float64(http.StatusTeapot) || access["duration"] == nil {
				t.Errorf("access line = %v", access)
			}
		})
	}
}

func TestRequestIDOutsideRequests(t *testing.T) {
	if id := observe.RequestID(t.Context()); id != "" {
		t.Errorf("RequestID of a bare context = %q", id)
	}
	if id := observe.RequestID(observe.WithRequestID(t.Context(), "abc")); id != "abc" {
		t.Errorf("RequestID = %q, want abc", id)
	}
}

// The wrapped ResponseWriter must keep flushing and hijacking (websockets)
// working.
func TestRequestLoggingKeepsFlushAndHijack(t *testing.T) {
	t.Run("flush", func(t *testing.T) {
		h := observe.RequestLogging(zerolog.Nop(), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte("x"))
			w.(http.Flusher).Flush()
		}))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
		if !rec.Flushed {
			t.Error("Flush did not reach the underlying writer")
		}
	})
	t.Run("hijack", func(t *testing.T) {
		srv := httptest.NewServer(observe.RequestLogging(zerolog.Nop(), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			conn, brw, err := http.NewResponseController(w).Hijack()
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			defer conn.Close()
			_, _ = brw.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 8\r\nConnection: close\r\n\r\nhijacked")
			_ = brw.Flush()
		})))
		defer srv.Close()
		resp, err := srv.Client().Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := bufio.NewReader(resp.Body).ReadString('\n')
		if resp.StatusCode != http.StatusOK || body != "hijacked" {
			t.Errorf("got %d %q, want the hijacked response", resp.StatusCode, body)
		}
	})
}
