package config_test

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"wagraph/internal/config"
)

// env is a fake environment for config.Load.
type env map[string]string

func (e env) get(k string) string { return e[k] }

func load(t *testing.T, e env, args ...string) (config.Config, error) {
	t.Helper()
	return config.Load(args, e.get)
}

func mustLoad(t *testing.T, e env, args ...string) config.Config {
	t.Helper()
	c, err := load(t, e, args...)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return c
}

// settingValue reads the field a setting fills, formatted as its default is
// written in Settings.
func settingValue(t *testing.T, c config.Config, key string) string {
	t.Helper()
	fields := map[string]any{
		"LISTEN_ADDR": c.ListenAddr, "DATABASE_URL": c.DatabaseURL, "REDIS_URL": c.RedisURL,
		"LOG_LEVEL": c.LogLevel, "LOG_FORMAT": c.LogFormat, "DB_DEBUG": c.DBDebug,
		"ALLOWED_ORIGINS": strings.Join(c.AllowedOrigins, ","), "AUTH_DISABLED": c.AuthDisabled,
		"MIGRATE_ON_START": c.MigrateOnStart, "GRAPHQL_INTROSPECTION": c.Introspection,
		"GRAPHQL_COMPLEXITY_LIMIT": c.ComplexityLimit, "GRAPHQL_TOKEN_LIMIT": c.ParserTokenLimit,
		"MAX_REQUEST_BYTES": c.MaxRequestBytes, "WS_INIT_TIMEOUT": c.WSInitTimeout,
		"WS_KEEPALIVE_INTERVAL": c.WSKeepAlive, "WS_MAX_SUBSCRIPTIONS": c.WSMaxSubscriptions, "WS_WRITE_TIMEOUT": c.WSWriteTimeout,
		"PUBSUB_BUFFER": c.PubSubBuffer, "SHUTDOWN_TIMEOUT": c.ShutdownTimeout,
		"ACTIVATION_TIMEOUT": c.ActivationTimeout, "SESSION_IDLE_EXPIRY": c.SessionIdleExpiry,
		"RESTORE_CONCURRENCY": c.RestoreConcurrency, "RECONNECT_MAX_ATTEMPTS": c.ReconnectMaxTries,
		"SIMULATE": c.Simulate, "SIMULATE_SCAN_DELAY": c.SimulateScanDelay,
		"PUBSUB_PUBLISH_TIMEOUT": c.PubSubPublishTimeout, "TRUSTED_PROXIES": strings.Join(c.TrustedProxies, ","),
		"AUTH_FREE_FAILURES": c.AuthFreeFailures, "AUTH_BACKOFF_MAX": c.AuthBackoffMax,
		"JOB_WORKERS": c.JobWorkers, "SEND_LANE_WORKERS": c.SendLaneWorkers, "JOB_RETENTION": c.JobRetention,
		"JOB_RESCUE_AFTER": c.JobRescueAfter, "SWEEP_TIMEOUTS_INTERVAL": c.TimeoutSweepInterval,
		"SWEEP_PHONE_NUMBERS_INTERVAL": c.PhoneSweepInterval,
		"CONTACT_DEFAULT_REGION":       c.ContactDefaultRegion,
	}
	for k, v := range map[string]any{
		"INSTANCE_ID": c.InstanceID, "LEASE_TTL": c.LeaseTTL, "LEASE_RENEW_INTERVAL": c.LeaseRenewInterval,
		"LEASE_REBALANCE_BATCH": c.LeaseRebalanceBatch, "ROUTE_TIMEOUT": c.RouteTimeout,
	} {
		fields[k] = v
	}
	for k, v := range map[string]any{
		"RATE_LIMIT_PER_MINUTE": c.RateLimitPerMinute, "RATE_LIMIT_PER_HOUR": c.RateLimitPerHour,
		"RATE_LIMIT_PER_DAY": c.RateLimitPerDay, "RATE_LIMIT_NEW_CHATS_PER_DAY": c.RateLimitNewChatsPerDay,
		"RATE_LIMIT_WARMUP":    warmupString(c.RateLimitWarmup),
		"RATE_LIMIT_PAUSE_463": c.RateLimitPause463, "RATE_LIMIT_FAILURE_BURST": c.RateLimitFailureBurst,
		"RATE_LIMIT_FAILURE_WINDOW": c.RateLimitFailureWindow, "RATE_LIMIT_FAILURE_PAUSE": c.RateLimitFailurePause,
		"RATE_LIMIT_PAUSE_RECHECK": c.RateLimitPauseRecheck, "SWEEP_SEND_PAUSES_INTERVAL": c.SendPauseSweepInterval,
	} {
		fields[k] = v
	}
	fields["IMPORT_UPLOAD_MAX_BYTES"] = c.ImportUploadMaxBytes
	for k, v := range map[string]any{
		"SCRAPE_GROUP_INTERVAL": c.ScrapeGroupInterval, "SCRAPE_RATE_LIMIT_BACKOFF": c.ScrapeRateLimitBackoff,
	} {
		fields[k] = v
	}
	v, ok := fields[key]
	if !ok {
		t.Fatalf("setting %s is documented but this test does not know its field; add it", key)
	}
	return fmt.Sprint(v)
}

func TestDefaultsMatchSettings(t *testing.T) {
	c := mustLoad(t, env{})
	for _, s := range config.Settings {
		t.Run(s.Env, func(t *testing.T) {
			want := s.Default
			if d, err := time.ParseDuration(want); err == nil && strings.ContainsAny(want, "hms") {
				want = d.String() // "5m" is stored as 5m0s
			}
			if got := settingValue(t, c, s.Env); got != want {
				t.Errorf("default %s = %q, Settings documents %q", s.Env, got, want)
			}
			if s.Help == "" {
				t.Errorf("%s has no help text for the README", s.Env)
			}
		})
	}
}

func TestEveryVariableIsRead(t *testing.T) {
	e := env{
		"LISTEN_ADDR":                  "127.0.0.1:9999",
		"DATABASE_URL":                 "postgres://u:p@db:5432/wagraph",
		"REDIS_URL":                    "redis://cache:6379/2",
		"LOG_LEVEL":                    "warn",
		"LOG_FORMAT":                   "json",
		"DB_DEBUG":                     "true",
		"ALLOWED_ORIGINS":              " https://admin.example.com/ , http://localhost:5173,, ",
		"AUTH_DISABLED":                "true",
		"MIGRATE_ON_START":             "false",
		"GRAPHQL_INTROSPECTION":        "false",
		"GRAPHQL_COMPLEXITY_LIMIT":     "11",
		"GRAPHQL_TOKEN_LIMIT":          "12",
		"MAX_REQUEST_BYTES":            "13",
		"WS_INIT_TIMEOUT":              "14s",
		"WS_KEEPALIVE_INTERVAL":        "25s",
		"WS_MAX_SUBSCRIPTIONS":         "16",
		"WS_WRITE_TIMEOUT":             "26s",
		"PUBSUB_BUFFER":                "17",
		"SHUTDOWN_TIMEOUT":             "18s",
		"ACTIVATION_TIMEOUT":           "19m",
		"SESSION_IDLE_EXPIRY":          "20h",
		"RESTORE_CONCURRENCY":          "21",
		"RECONNECT_MAX_ATTEMPTS":       "22",
		"SIMULATE":                     "true",
		"SIMULATE_SCAN_DELAY":          "27s",
		"PUBSUB_PUBLISH_TIMEOUT":       "28ms",
		"TRUSTED_PROXIES":              "10.0.0.0/8, 192.168.1.7",
		"AUTH_FREE_FAILURES":           "29",
		"AUTH_BACKOFF_MAX":             "30m",
		"JOB_WORKERS":                  "31",
		"SEND_LANE_WORKERS":            "46",
		"JOB_RETENTION":                "32h",
		"JOB_RESCUE_AFTER":             "33m",
		"SWEEP_TIMEOUTS_INTERVAL":      "34s",
		"SWEEP_PHONE_NUMBERS_INTERVAL": "35m",
		"CONTACT_DEFAULT_REGION":       "br",
	}
	for k, v := range map[string]string{
		"RATE_LIMIT_PER_MINUTE": "33", "RATE_LIMIT_PER_HOUR": "34", "RATE_LIMIT_PER_DAY": "35",
		"RATE_LIMIT_NEW_CHATS_PER_DAY": "36", "RATE_LIMIT_WARMUP": "37,38",
		"RATE_LIMIT_PAUSE_463": "39h", "RATE_LIMIT_FAILURE_BURST": "40", "RATE_LIMIT_FAILURE_WINDOW": "41m",
		"RATE_LIMIT_FAILURE_PAUSE": "42m", "RATE_LIMIT_PAUSE_RECHECK": "43s", "SWEEP_SEND_PAUSES_INTERVAL": "44s",
		"IMPORT_UPLOAD_MAX_BYTES": "45",
		"INSTANCE_ID":             "pod-3", "LEASE_TTL": "39s", "LEASE_RENEW_INTERVAL": "4s", "LEASE_REBALANCE_BATCH": "41",
		"ROUTE_TIMEOUT": "42s",
	} {
		e[k] = v
	}
	for k, v := range map[string]string{"SCRAPE_GROUP_INTERVAL": "39s", "SCRAPE_RATE_LIMIT_BACKOFF": "40m"} {
		e[k] = v
	}
	got := mustLoad(t, e)
	want := config.Config{
		ListenAddr: "127.0.0.1:9999", DatabaseURL: "postgres://u:p@db:5432/wagraph", RedisURL: "redis://cache:6379/2",
		LogLevel: "warn", LogFormat: "json", DBDebug: true,
		AllowedOrigins: []string{"https://admin.example.com", "http://localhost:5173"},
		AuthDisabled:   true, MigrateOnStart: false, Introspection: false,
		ComplexityLimit: 11, ParserTokenLimit: 12, MaxRequestBytes: 13,
		WSInitTimeout: 14 * time.Second, WSKeepAlive: 25 * time.Second, WSMaxSubscriptions: 16, WSWriteTimeout: 26 * time.Second,
		PubSubBuffer: 17, ShutdownTimeout: 18 * time.Second,
		ActivationTimeout: 19 * time.Minute, SessionIdleExpiry: 20 * time.Hour,
		RestoreConcurrency: 21, ReconnectMaxTries: 22, Simulate: true, SimulateScanDelay: 27 * time.Second,
		PubSubPublishTimeout: 28 * time.Millisecond, TrustedProxies: []string{"10.0.0.0/8", "192.168.1.7"},
		AuthFreeFailures: 29, AuthBackoffMax: 30 * time.Minute,
		JobWorkers: 31, SendLaneWorkers: 46, JobRetention: 32 * time.Hour,
		JobRescueAfter: 33 * time.Minute, TimeoutSweepInterval: 34 * time.Second, PhoneSweepInterval: 35 * time.Minute,
		ContactDefaultRegion: "BR",
	}
	want.RateLimitPerMinute, want.RateLimitPerHour, want.RateLimitPerDay, want.RateLimitNewChatsPerDay = 33, 34, 35, 36
	want.RateLimitWarmup = []int{37, 38}
	want.RateLimitPause463, want.RateLimitFailureBurst, want.RateLimitFailureWindow = 39*time.Hour, 40, 41*time.Minute
	want.RateLimitFailurePause, want.RateLimitPauseRecheck, want.SendPauseSweepInterval = 42*time.Minute, 43*time.Second, 44*time.Second
	want.ImportUploadMaxBytes = 45
	want.InstanceID, want.LeaseTTL, want.LeaseRenewInterval, want.LeaseRebalanceBatch = "pod-3", 39*time.Second, 4*time.Second, 41
	want.RouteTimeout = 42 * time.Second
	want.ScrapeGroupInterval, want.ScrapeRateLimitBackoff = 39*time.Second, 40*time.Minute
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Load =\n%+v\nwant\n%+v", got, want)
	}
	// Every documented variable must have changed something: catch a setting
	// added to Settings but not read.
	def := mustLoad(t, env{})
	for _, s := range config.Settings {
		if settingValue(t, got, s.Env) == settingValue(t, def, s.Env) {
			t.Errorf("%s=%q did not change the configuration", s.Env, e[s.Env])
		}
	}
}

func TestBlankValuesMeanDefault(t *testing.T) {
	c := mustLoad(t, env{"LISTEN_ADDR": "  ", "GRAPHQL_COMPLEXITY_LIMIT": ""})
	if c.ListenAddr != "127.0.0.1:8080" || c.ComplexityLimit != 1000 {
		t.Errorf("blank values: listen %q complexity %d, want the defaults", c.ListenAddr, c.ComplexityLimit)
	}
}

func TestBadValues(t *testing.T) {
	tests := []struct {
		name string
		env  env
		args []string
		// every fragment must appear in the error: the variable and what to do
		want []string
	}{
		{"bool", env{"DB_DEBUG": "yes please"}, nil, []string{"DB_DEBUG", `"yes please"`, "use true or false"}},
		{"int", env{"GRAPHQL_COMPLEXITY_LIMIT": "lots"}, nil, []string{"GRAPHQL_COMPLEXITY_LIMIT", "whole number"}},
		{"zero limit", env{"PUBSUB_BUFFER": "0"}, nil, []string{"PUBSUB_BUFFER must be a positive number"}},
		{"negative limit", env{"MAX_REQUEST_BYTES": "-1"}, nil, []string{"MAX_REQUEST_BYTES must be a positive number"}},
		{"duration", env{"WS_INIT_TIMEOUT": "10"}, nil, []string{"WS_INIT_TIMEOUT", "positive duration such as 30s"}},
		{"negative duration", env{"SHUTDOWN_TIMEOUT": "-5s"}, nil, []string{"SHUTDOWN_TIMEOUT", "positive duration"}},
		{"zero job workers", env{"JOB_WORKERS": "0"}, nil, []string{"JOB_WORKERS must be a positive number"}},
		{"zero send lane workers", env{"SEND_LANE_WORKERS": "0"}, nil, []string{"SEND_LANE_WORKERS must be a positive number"}},
		{"job retention without unit", env{"JOB_RETENTION": "7"}, nil, []string{"JOB_RETENTION", "positive duration"}},
		{"zero sweep interval", env{"SWEEP_TIMEOUTS_INTERVAL": "0s"}, nil, []string{"SWEEP_TIMEOUTS_INTERVAL", "positive duration"}},
		{"listen without port", env{"LISTEN_ADDR": "localhost"}, nil, []string{"LISTEN_ADDR", "host:port"}},
		{"listen with named port", env{"LISTEN_ADDR": "127.0.0.1:http"}, nil, []string{"LISTEN_ADDR", "port must be a number"}},
		{"redis scheme", env{"REDIS_URL": "http://cache:6379"}, nil, []string{"REDIS_URL", "redis://host:6379/0"}},
		{"log level", env{"LOG_LEVEL": "verbose"}, nil, []string{"LOG_LEVEL", `"verbose"`, "trace, debug, info, warn or error"}},
		{"log level flag", nil, []string{"--log-level", "loud"}, []string{"LOG_LEVEL", `"loud"`}},
		{"log format", env{"LOG_FORMAT": "xml"}, nil, []string{"LOG_FORMAT", "console or json"}},
		{"origin without scheme", env{"ALLOWED_ORIGINS": "admin.example.com"}, nil, []string{"ALLOWED_ORIGINS", "admin.example.com", "scheme://host"}},
		{"auth disabled on all interfaces", env{"AUTH_DISABLED": "true", "LISTEN_ADDR": ":8080"}, nil, []string{"AUTH_DISABLED", "non-loopback", "listen on 127.0.0.1"}},
		{"auth disabled on a public address", env{"AUTH_DISABLED": "true", "LISTEN_ADDR": "10.1.2.3:8080"}, nil, []string{"AUTH_DISABLED", `"10.1.2.3:8080"`}},
		{"auth disabled via flag address", env{"AUTH_DISABLED": "true"}, []string{"--listen", "0.0.0.0:8080"}, []string{"AUTH_DISABLED", "0.0.0.0:8080"}},
		{"trusted proxy", env{"TRUSTED_PROXIES": "10.0.0.0/8,proxy.local"}, nil, []string{"TRUSTED_PROXIES", `"proxy.local"`, "10.0.0.0/8"}},
		{"free auth failures", env{"AUTH_FREE_FAILURES": "0"}, nil, []string{"AUTH_FREE_FAILURES must be a positive number"}},
		{"contact region", env{"CONTACT_DEFAULT_REGION": "Germany"}, nil, []string{"CONTACT_DEFAULT_REGION \"GERMANY\": use a two-letter ISO 3166 country code"}},
		{"lease renewal too slow", env{"LEASE_TTL": "10s", "LEASE_RENEW_INTERVAL": "6s"}, nil, []string{"LEASE_RENEW_INTERVAL 6s is more than half of LEASE_TTL 10s", "renew more often"}},
		{"instance id", env{"INSTANCE_ID": "pod 3/a"}, nil, []string{"INSTANCE_ID", `"pod 3/a"`, "letters, digits, dots and dashes"}},
		{"zero rebalance batch", env{"LEASE_REBALANCE_BATCH": "0"}, nil, []string{"LEASE_REBALANCE_BATCH must be a positive number"}},
		{"unknown flag", nil, []string{"--port", "80"}, []string{"flags", "-port", "known: --listen, --log-level, --simulate"}},
		{"stray argument is not a flag error", nil, []string{"--listen"}, []string{"flags", "listen"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := load(t, tt.env, tt.args...)
			if err == nil {
				t.Fatal("Load accepted a bad value")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestEveryBadValueIsReported(t *testing.T) {
	_, err := load(t, env{"DB_DEBUG": "x", "PUBSUB_BUFFER": "y", "LOG_FORMAT": "z"})
	for _, v := range []string{"DB_DEBUG", "PUBSUB_BUFFER", "LOG_FORMAT"} {
		if err == nil || !strings.Contains(err.Error(), v) {
			t.Errorf("error %v does not mention %s: all problems should be reported at once", err, v)
		}
	}
}

func TestAuthDisabledOnLoopback(t *testing.T) {
	for _, addr := range []string{"127.0.0.1:8080", "localhost:8080", "[::1]:8080", "127.0.0.2:1"} {
		t.Run(addr, func(t *testing.T) {
			c := mustLoad(t, env{"AUTH_DISABLED": "true", "LISTEN_ADDR": addr})
			if !c.AuthDisabled {
				t.Error("AuthDisabled not set")
			}
		})
	}
}

func TestIsLoopback(t *testing.T) {
	for host, want := range map[string]bool{
		"localhost": true, "127.0.0.1": true, "::1": true, "127.9.9.9": true,
		"": false, "0.0.0.0": false, "::": false, "10.0.0.1": false, "example.com": false, "localhost.example.com": false,
	} {
		if got := config.IsLoopback(host); got != want {
			t.Errorf("IsLoopback(%q) = %v, want %v", host, got, want)
		}
	}
}

func TestFlags(t *testing.T) {
	tests := []struct {
		name  string
		env   env
		args  []string
		check func(t *testing.T, c config.Config)
	}{
		{"listen overrides env", env{"LISTEN_ADDR": "127.0.0.1:1"}, []string{"--listen", "127.0.0.1:2"}, func(t *testing.T, c config.Config) {
			if c.ListenAddr != "127.0.0.1:2" {
				t.Errorf("ListenAddr = %q", c.ListenAddr)
			}
		}},
		{"log level", nil, []string{"-log-level=trace"}, func(t *testing.T, c config.Config) {
			if c.LogLevel != "trace" {
				t.Errorf("LogLevel = %q", c.LogLevel)
			}
		}},
		{"simulate uses its own database", nil, []string{"--simulate"}, func(t *testing.T, c config.Config) {
			if !c.Simulate || c.DatabaseURL != "sqlite:./data/simulate.db" {
				t.Errorf("Simulate %v DatabaseURL %q", c.Simulate, c.DatabaseURL)
			}
		}},
		{"simulate env", env{"SIMULATE": "true"}, nil, func(t *testing.T, c config.Config) {
			if !c.Simulate || c.DatabaseURL != "sqlite:./data/simulate.db" {
				t.Errorf("Simulate %v DatabaseURL %q", c.Simulate, c.DatabaseURL)
			}
		}},
		{"simulate keeps an explicit database", env{"DATABASE_URL": "sqlite:/tmp/x.db"}, []string{"--simulate"}, func(t *testing.T, c config.Config) {
			if !c.Simulate || c.DatabaseURL != "sqlite:/tmp/x.db" {
				t.Errorf("Simulate %v DatabaseURL %q", c.Simulate, c.DatabaseURL)
			}
		}},
		{"simulate=false overrides the env", env{"SIMULATE": "true"}, []string{"--simulate=false"}, func(t *testing.T, c config.Config) {
			if c.Simulate || c.DatabaseURL != "sqlite:./data/wagraph.db" {
				t.Errorf("Simulate %v DatabaseURL %q, want the flag to win", c.Simulate, c.DatabaseURL)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.check(t, mustLoad(t, tt.env, tt.args...)) })
	}
}

func TestFromOS(t *testing.T) {
	t.Setenv("LISTEN_ADDR", "127.0.0.1:7777")
	t.Setenv("GRAPHQL_TOKEN_LIMIT", "77")
	c, err := config.FromOS(nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.ListenAddr != "127.0.0.1:7777" || c.ParserTokenLimit != 77 {
		t.Errorf("FromOS ignored the environment: %+v", c)
	}
}

func TestRedactedNeverShowsPasswords(t *testing.T) {
	tests := []struct {
		name, db, redis, secret string
	}{
		{"postgres url", "postgres://wagraph:s3cr3t-pw@db:5432/wagraph?sslmode=disable", "", "s3cr3t-pw"},
		{"redis password only", "sqlite:x.db", "redis://:r3dis-pw@cache:6379/0", "r3dis-pw"},
		{"redis user and password", "sqlite:x.db", "rediss://default:r3dis-pw@cache:6380", "r3dis-pw"},
		{"password with slash", "postgres://u:pa/ss-w0rd@db/wagraph", "", "pa/ss-w0rd"},
		{"password with hash", "postgres://u:pa#ss-w0rd@db/wagraph", "", "pa#ss-w0rd"},
		{"password with bad escape", "postgres://u:pa%zzss-w0rd@db/wagraph", "", "pa%zzss-w0rd"},
		{"numeric password with slash", "postgres://u:1234/5678@db/wagraph", "", "1234/5678"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustLoad(t, env{"DATABASE_URL": tt.db, "REDIS_URL": tt.redis})
			out := fmt.Sprint(c.Redacted())
			if strings.Contains(out, tt.secret) {
				t.Errorf("Redacted() shows the password %q: %s", tt.secret, out)
			}
			for _, u := range []string{tt.db, tt.redis} {
				if u != "" && strings.Contains(u, tt.secret) && !strings.Contains(config.Redact(u), "xxxxx") {
					t.Errorf("Redact(%q) = %q, want the password masked as xxxxx", u, config.Redact(u))
				}
			}
		})
	}
}

func TestRedactKeepsWhatIsNotSecret(t *testing.T) {
	for in, want := range map[string]string{
		"":                                   "",
		"sqlite:./data/wagraph.db":           "sqlite:./data/wagraph.db",
		"redis://cache:6379/0":               "redis://cache:6379/0",
		"postgres://wagraph@db/wagraph":      "postgres://wagraph@db/wagraph",
		"postgres://wagraph:pw@db/wagraph":   "postgres://wagraph:xxxxx@db/wagraph",
		"sqlite:/home/me@example/wagraph.db": "sqlite:/home/me@example/wagraph.db",
	} {
		if got := config.Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRedactedListsTheSettings(t *testing.T) {
	c := mustLoad(t, env{"REDIS_URL": "redis://:pw@cache:6379/0", "ALLOWED_ORIGINS": "https://a.example"})
	r := c.Redacted()
	for k, want := range map[string]any{
		"listen_addr": "127.0.0.1:8080", "redis_url": "redis://:xxxxx@cache:6379/0", "log_level": "info",
		"complexity_limit": 1000, "ws_init_timeout": "10s", "simulate": false,
	} {
		if !reflect.DeepEqual(r[k], want) {
			t.Errorf("Redacted()[%q] = %#v, want %#v", k, r[k], want)
		}
	}
	if got := r["allowed_origins"]; !reflect.DeepEqual(got, []string{"https://a.example"}) {
		t.Errorf("allowed_origins = %#v", got)
	}
}

func TestRedisURLErrorIsRedacted(t *testing.T) {
	_, err := load(t, env{"REDIS_URL": "http://:hunter2@cache:6379"})
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error %v: want an error that does not show the password", err)
	}
}

func warmupString(caps []int) string {
	if caps == nil {
		return "off"
	}
	s := make([]string, len(caps))
	for i, c := range caps {
		s[i] = fmt.Sprint(c)
	}
	return strings.Join(s, ",")
}

func TestRateLimitWarmup(t *testing.T) {
	get := func(env map[string]string) func(string) string { return func(k string) string { return env[k] } }
	c, err := config.Load(nil, get(map[string]string{"RATE_LIMIT_WARMUP": " 10, 10,50 "}))
	if err != nil || fmt.Sprint(c.RateLimitWarmup) != "[10 10 50]" {
		t.Fatalf("warmup 10,10,50: %v %v", c.RateLimitWarmup, err)
	}
	c, err = config.Load(nil, get(map[string]string{"RATE_LIMIT_WARMUP": "OFF"}))
	if err != nil || c.RateLimitWarmup != nil {
		t.Fatalf("warmup off: %v %v", c.RateLimitWarmup, err)
	}
	for _, bad := range []string{"20,10", "0,5", "x", "20,,40"} {
		if _, err := config.Load(nil, get(map[string]string{"RATE_LIMIT_WARMUP": bad})); err == nil || !strings.Contains(err.Error(), "RATE_LIMIT_WARMUP") {
			t.Errorf("warmup %q: want a RATE_LIMIT_WARMUP error, got %v", bad, err)
		}
	}
	if _, err := config.Load(nil, get(map[string]string{"RATE_LIMIT_PER_DAY": "0"})); err == nil || !strings.Contains(err.Error(), "RATE_LIMIT_PER_DAY") {
		t.Errorf("RATE_LIMIT_PER_DAY=0: want an error, got %v", err)
	}
}
