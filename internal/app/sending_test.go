package app_test

import (
	"context"
	"testing"

	"github.com/99designs/gqlgen/client"

	"wagraph/internal/apptest"
	"wagraph/internal/auth"
	"wagraph/internal/ratelimit"
	"wagraph/internal/testenv"
)

// The send limiter is in-process by default and on Redis with REDIS_URL, so
// instances sharing a Redis share each account's budget; the RATE_LIMIT_*
// settings are every account's defaults, and the warm-up caps a new one.
func TestSendLimiterAndDefaults(t *testing.T) {
	for _, c := range []struct {
		name  string
		redis bool
	}{{"memory", false}, {"redis", true}} {
		t.Run(c.name, func(t *testing.T) {
			env := apptest.Env{"RATE_LIMIT_PER_MINUTE": "4", "RATE_LIMIT_PER_HOUR": "50", "RATE_LIMIT_PER_DAY": "200", "RATE_LIMIT_NEW_CHATS_PER_DAY": "9", "RATE_LIMIT_WARMUP": "5,10"}
			if c.redis {
				env["REDIS_URL"] = testenv.RedisURL(t)
			}
			s := apptest.Start(t, env)
			switch l := s.App.Limiter.(type) {
			case *ratelimit.Redis:
				if !c.redis {
					t.Fatal("Redis limiter without REDIS_URL")
				}
			case *ratelimit.Memory:
				if c.redis {
					t.Fatal("in-process limiter with REDIS_URL set")
				}
			default:
				t.Fatalf("limiter %T", l)
			}
			op := s.Client(apptest.Bearer(s.Token(t, auth.Operator)))
			data := apptest.Post(t, op, `mutation { createAccount(input: {name: "limits"}) { account { id } } }`).NoErrors(t)
			id := apptest.Path(data, "createAccount", "account", "id").(string)
			e, err := s.App.Sending.Limits(context.Background(), id)
			if err != nil {
				t.Fatal(err)
			}
			if d, err := s.App.Limiter.Allow(context.Background(), id, e.Limits); err != nil || !d.Allowed {
				t.Fatalf("allow: %+v %v", d, err)
			}
			viewer := s.Client(apptest.Bearer(s.Token(t, auth.Viewer)))
			data = apptest.Post(t, viewer, `query($id: ID!) { rateLimitStatus(accountId: $id) { warmupDay warmupCap
				windows { max windowSeconds used } newChats { max } configured { custom newChatsPerDay } } }`, client.Var("id", id)).NoErrors(t)
			st := apptest.Path(data, "rateLimitStatus")
			ws, _ := apptest.Path(st, "windows").([]any)
			// Never linked: day 0 and the first day's cap on the daily window.
			if len(ws) != 3 || apptest.Path(ws[0], "max") != float64(4) || apptest.Path(ws[0], "used") != float64(1) ||
				apptest.Path(ws[1], "max") != float64(50) || apptest.Path(ws[2], "max") != float64(5) || apptest.Path(ws[2], "windowSeconds") != float64(86400) ||
				apptest.Path(st, "warmupDay") != float64(0) || apptest.Path(st, "warmupCap") != float64(5) ||
				apptest.Path(st, "newChats", "max") != float64(5) || apptest.Path(st, "configured", "newChatsPerDay") != float64(9) {
				t.Fatalf("rateLimitStatus: %v", st)
			}
		})
	}
}
