package graph_test

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"wagraph/internal/apptest"
	"wagraph/internal/auth"
)

// cpuTime is the process's user and system CPU time so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// requestNumber makes every benchmark request's query unique, across
// sub-benchmarks too, so none is answered from the parsed-query cache.
var requestNumber atomic.Int64

// BenchmarkHostileRequests sends, for each attack shape, the most expensive
// request of that shape that fits the body limit (MAX_REQUEST_BYTES) and the
// parser's token limit, through the whole HTTP handler, with and without a
// token. cpu-ms/op is the process CPU time per request (all goroutines,
// garbage collection included); the target is under 50 ms. The
// "no-token-limit" variants lift GRAPHQL_TOKEN_LIMIT to show that the
// document guard, not the token limit, bounds the work.
func BenchmarkHostileRequests(b *testing.B) {
	for _, tokenLimit := range []int{5000, 0} {
		env := apptest.Env{}
		label := "default-limits"
		if tokenLimit == 0 {
			env["GRAPHQL_TOKEN_LIMIT"] = "100000000"
			label = "no-token-limit"
		}
		s := apptest.Start(b, env)
		maxBytes := int(s.App.Config.MaxRequestBytes)
		token := s.Token(b, auth.Admin)
		// Warm up: the server's first requests pay for caches and
		// connections that later ones share.
		for range 200 {
			req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(`{"query":"{ health { status } viewer { role } }"}`))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+token)
			s.App.Handler.ServeHTTP(httptest.NewRecorder(), req)
		}
		for _, shape := range attackShapes {
			body := largest(b, shape, maxBytes, tokenLimit).JSON()
			counter := bytes.Index(body, []byte("#nonce-")) + len("#nonce-")
			for _, withToken := range []bool{false, true} {
				name := label + "/" + shape.name + "/no-token"
				if withToken {
					name = label + "/" + shape.name + "/token"
				}
				b.Run(name, func(b *testing.B) {
					b.SetBytes(int64(len(body)))
					b.ReportAllocs()
					// Collect the garbage of building the request first, so
					// that the CPU time below is the requests' own.
					runtime.GC()
					start := cpuTime(b)
					for b.Loop() {
						copy(body[counter:], fmt.Sprintf("%012d", requestNumber.Add(1)))
						req := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(body))
						req.Header.Set("Content-Type", "application/json")
						if withToken {
							req.Header.Set("Authorization", "Bearer "+token)
						}
						rec := httptest.NewRecorder()
						s.App.Handler.ServeHTTP(rec, req)
						if rec.Code >= 500 {
							b.Fatalf("status %d: %.300s", rec.Code, rec.Body.String())
						}
					}
					b.ReportMetric(float64(cpuTime(b)-start)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
					b.ReportMetric(float64(len(body)), "req-bytes")
				})
			}
		}
	}
}
