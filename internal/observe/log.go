// Package observe is wagraph's logging, request ids, Prometheus metrics and
// health checks: what an operator reads to know whether the server is well.
package observe

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	stdlog "log"
	"net/http"
	"regexp"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"
)

// NewLogger returns the one logger the server passes down. format is "json"
// or "console"; level is a zerolog level name.
func NewLogger(w io.Writer, level, format string) (zerolog.Logger, error) {
	lvl, err := zerolog.ParseLevel(level)
	if err != nil || level == "" {
		return zerolog.Nop(), fmt.Errorf("unknown log level %q: use trace, debug, info, warn or error", level)
	}
	if format == "console" {
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.TimeOnly}
	} else if format != "json" {
		return zerolog.Nop(), fmt.Errorf("unknown log format %q: use json or console", format)
	}
	return zerolog.New(w).Level(lvl).With().Timestamp().Logger(), nil
}

type requestIDKey struct{}

// RequestID returns the request id of ctx, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// WithRequestID returns ctx carrying id.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// validRequestID keeps client-supplied ids short and log-safe.
var validRequestID = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// NewRequestID returns a random 16-hex-digit id.
func NewRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// RequestLogging gives every request an id (the client's X-Request-ID when it
// is sane, else a new one), echoes it in the response, puts a sub-logger with
// it in the context, and writes one access log line per request.
func RequestLogging(log zerolog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-ID")
		if !validRequestID.MatchString(id) {
			id = NewRequestID()
		}
		w.Header().Set("X-Request-ID", id)
		reqLog := log.With().Str("request_id", id).Logger()
		ctx := reqLog.WithContext(WithRequestID(r.Context(), id))
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		start := time.Now()
		next.ServeHTTP(sw, r.WithContext(ctx))
		reqLog.Debug().Str("method", r.Method).Str("path", r.URL.Path).Int("status", sw.status).
			Dur("duration", time.Since(start)).Msg("http request")
	})
}

// statusWriter remembers the status code; it forwards Flush and Unwrap so
// websockets (http.Hijacker via ResponseController) keep working.
type statusWriter struct {
	http.ResponseWriter
	status      int
	wroteHeader bool
}

// WriteHeader passes on the first call only, as net/http would honour it,
// without net/http's "superfluous WriteHeader" log line for later calls.
func (w *statusWriter) WriteHeader(code int) {
	if w.wroteHeader {
		return
	}
	w.status, w.wroteHeader = code, true
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// CaptureLibraryLogs routes what libraries print through their own global
// loggers (the standard library's log, as used by websocket upgrades, and
// go-redis's reconnect messages) into log, so every line is structured.
// Those loggers are process-wide, so only main calls this.
func CaptureLibraryLogs(log zerolog.Logger) {
	stdlog.SetFlags(0)
	stdlog.SetOutput(log.With().Str("source", "stdlib").Logger().Level(zerolog.WarnLevel))
	redis.SetLogger(redisLogger{log: log.With().Str("source", "redis").Logger()})
}

type redisLogger struct{ log zerolog.Logger }

func (l redisLogger) Printf(_ context.Context, format string, v ...any) {
	l.log.Warn().Msg(fmt.Sprintf(format, v...))
}
