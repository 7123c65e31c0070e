package graph_test

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
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
					start := cpuTime(b)
					for i := 0; b.Loop(); i++ {
						copy(body[counter:], fmt.Sprintf("%012d", i))
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
