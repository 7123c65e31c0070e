// Package config is wagraph's one configuration struct, read from the
// environment (and a few flags), validated at start and passed down
// explicitly. README.md lists every setting; keep the two in step.
package config

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// Config is every setting the server reads.
type Config struct {
	ListenAddr  string
	DatabaseURL string
	RedisURL    string
	LogLevel    string
	LogFormat   string
	DBDebug     bool

	// AllowedOrigins are the browser origins (e.g. https://admin.example.com)
	// allowed for CORS and websocket upgrades, besides the server's own.
	AllowedOrigins []string

	AuthDisabled   bool
	MigrateOnStart bool
	Introspection  bool

	ComplexityLimit    int
	ParserTokenLimit   int
	MaxRequestBytes    int64
	WSInitTimeout      time.Duration
	WSKeepAlive        time.Duration
	WSMaxSubscriptions int
	WSWriteTimeout     time.Duration
	PubSubBuffer       int
	ShutdownTimeout    time.Duration

	ActivationTimeout  time.Duration
	SessionIdleExpiry  time.Duration
	RestoreConcurrency int
	ReconnectMaxTries  int

	// PubSubPublishTimeout bounds one Redis publish (events are published
	// after their change is committed; live views resync after an outage).
	PubSubPublishTimeout time.Duration
	// TrustedProxies are the proxies (addresses or networks) whose
	// X-Forwarded-For names the client, for per-client auth backoff.
	TrustedProxies []string
	// AuthFreeFailures is how many failed authentications in a row a client
	// address may have before it must wait; AuthBackoffMax caps the wait.
	AuthFreeFailures int
	AuthBackoffMax   time.Duration

	// Simulate runs the in-process WhatsApp simulator instead of WhatsApp.
	Simulate bool
	// SimulatorURL, from SIMULATE=<address>, is the control API of a shared
	// simulator (`wagraph simulator`) to use instead of WhatsApp.
	SimulatorURL string
	// ContactDefaultRegion (ISO 3166, e.g. DE) reads contact numbers
	// written without a country code; empty requires international ones.
	ContactDefaultRegion string
	// ImportUploadMaxBytes bounds the files of one upload (importContactsCsv).
	ImportUploadMaxBytes int64
	// ScrapeGroupInterval spaces one account's group calls to WhatsApp;
	// ScrapeRateLimitBackoff is the first wait after rate-overlimit.
	ScrapeGroupInterval    time.Duration
	ScrapeRateLimitBackoff time.Duration

	// RateLimitPerMinute, PerHour and PerDay are every account's default
	// send limits (setRateLimits overrides them per account);
	// RateLimitNewChatsPerDay the default for messages to recipients who
	// never wrote to the account. RateLimitWarmup is the daily cap on day
	// 1, 2, … after an account is linked; nil: no warm-up.
	RateLimitPerMinute      int
	RateLimitPerHour        int
	RateLimitPerDay         int
	RateLimitNewChatsPerDay int
	RateLimitWarmup         []int
	// Send pauses (docs/sending.md): how long error 463 pauses an
	// account; how many failed sends within which window pause it, and for
	// how long (burst 0: never); when a send waiting on an open-ended pause
	// looks again; how often expired pauses are swept.
	RateLimitPause463      time.Duration
	RateLimitFailureBurst  int
	RateLimitFailureWindow time.Duration
	RateLimitFailurePause  time.Duration
	RateLimitPauseRecheck  time.Duration
	SendPauseSweepInterval time.Duration

	// SimulateScanDelay is how long the simulated phone waits before it
	// scans a QR code or enters a pairing code (simulate mode only).
	SimulateScanDelay time.Duration

	// JobWorkers is how many background jobs this instance works at once.
	JobWorkers int
	// SendLaneWorkers is how many send jobs each of the 32 send lanes
	// works at once (internal/message/lanes.go).
	SendLaneWorkers int
	// JobRetention is how long finished jobs stay listed before deletion.
	JobRetention time.Duration
	// JobRescueAfter is how long a job may stay running before River takes
	// it for stuck (its process died) and runs it again.
	JobRescueAfter time.Duration
	// TimeoutSweepInterval and PhoneSweepInterval are the periods of the
	// sweep_timeouts and sweep_phone_numbers jobs.
	TimeoutSweepInterval time.Duration
	PhoneSweepInterval   time.Duration

	// InstanceID names this instance among several (with REDIS_URL);
	// empty: hostname-pid-random. LeaseTTL, LeaseRenewInterval and
	// LeaseRebalanceBatch tune the account leases, RouteTimeout the wait
	// for the instance that runs an account (docs/operations.md).
	InstanceID          string
	LeaseTTL            time.Duration
	LeaseRenewInterval  time.Duration
	LeaseRebalanceBatch int
	RouteTimeout        time.Duration
}

// Setting documents one environment variable; README's table is made from it.
type Setting struct {
	Env, Default, Help string
}

// Settings lists every environment variable with its default, in README order.
var Settings = []Setting{
	{"LISTEN_ADDR", "127.0.0.1:8080", "Address the HTTP server listens on (flag --listen)."},
	{"DATABASE_URL", "sqlite:./data/wagraph.db", "SQLite file (sqlite:PATH) or Postgres URL (postgres://user:pass@host/db)."},
	{"REDIS_URL", "", "Redis URL (redis://host:6379/0). When set, events fan out through Redis pub/sub across instances, and the instances split the accounts between them (leases, docs/operations.md)."},
	{"LOG_LEVEL", "info", "trace, debug, info, warn or error (flag --log-level). debug prints the configuration, secrets masked."},
	{"LOG_FORMAT", "console", "console (readable) or json."},
	{"DB_DEBUG", "false", "Log every SQL query (verbose)."},
	{"ALLOWED_ORIGINS", "", "Comma-separated browser origins allowed for CORS and websockets, e.g. https://admin.example.com. The server's own origin is always allowed."},
	{"AUTH_DISABLED", "false", "Accept requests without a token, as ADMIN. Development only; refused unless LISTEN_ADDR is loopback."},
	{"MIGRATE_ON_START", "true", "Apply pending migrations at start. When false the server refuses to start on an unmigrated database; run `wagraph migrate`."},
	{"GRAPHQL_INTROSPECTION", "true", "Allow schema introspection (GraphiQL's docs need it)."},
	{"GRAPHQL_COMPLEXITY_LIMIT", "1000", "Maximum query complexity."},
	{"GRAPHQL_TOKEN_LIMIT", "5000", "Maximum number of tokens the parser reads from one query."},
	{"MAX_REQUEST_BYTES", "1048576", "Maximum request body and websocket message size in bytes."},
	{"WS_INIT_TIMEOUT", "10s", "How long a websocket may take to authenticate (connection_init and its token check) before it is closed."},
	{"WS_KEEPALIVE_INTERVAL", "15s", "Keep-alive ping interval on websockets."},
	{"WS_MAX_SUBSCRIPTIONS", "50", "Maximum concurrent subscriptions per websocket connection."},
	{"WS_WRITE_TIMEOUT", "10s", "A websocket client that does not take a message within this time is disconnected."},
	{"PUBSUB_BUFFER", "64", "Events buffered per subscriber before a too-slow subscriber is cut off."},
	{"SHUTDOWN_TIMEOUT", "15s", "How long a graceful shutdown waits for requests to finish."},
	{"ACTIVATION_TIMEOUT", "5m", "An activation not ACTIVE within this time is reset to PENDING."},
	{"SESSION_IDLE_EXPIRY", "336h", "A session idle this long (14 days) is EXPIRED instead of restored."},
	{"RESTORE_CONCURRENCY", "4", "Accounts connected at once when sessions are restored at start."},
	{"RECONNECT_MAX_ATTEMPTS", "8", "Reconnect attempts (jittered exponential backoff) before an account is FAILED."},
	{"PUBSUB_PUBLISH_TIMEOUT", "500ms", "With Redis: how long publishing an event may take. The change is committed either way; during a Redis outage publishing fails fast after the first timeout, and live views resync when Redis is back."},
	{"TRUSTED_PROXIES", "", "Comma-separated proxy addresses or networks (10.0.0.0/8) whose X-Forwarded-For header names the client. Unset: the client is the connection's peer address."},
	{"AUTH_FREE_FAILURES", "5", "Failed authentications in a row a client address may have before it must wait (RATE_LIMITED); the wait starts at 1s and doubles with each further failure."},
	{"AUTH_BACKOFF_MAX", "15m", "The longest wait after failed authentications."},
	{"CONTACT_DEFAULT_REGION", "", "ISO 3166 country code (e.g. DE) for contact numbers written without a country code, in imports; unset: numbers must be international (+49…)."},
	{"IMPORT_UPLOAD_MAX_BYTES", "104857600", "Maximum size in bytes of the files of one upload (importContactsCsv, a multipart request); MAX_REQUEST_BYTES still bounds the rest of the request."},
	{"SCRAPE_GROUP_INTERVAL", "2s", "Least time between two group calls to WhatsApp of one account while scraping (refreshGroups, scrapeGroups); see docs/contacts.md."},
	{"SCRAPE_RATE_LIMIT_BACKOFF", "1m", "How long a scrape waits after WhatsApp answers rate-overlimit; doubles with each answer in a row, up to 30m. Waiting is not a failed attempt."},
	{"RATE_LIMIT_PER_MINUTE", "6", "Default sends per account in any minute (setRateLimits overrides per account); see docs/sending.md."},
	{"RATE_LIMIT_PER_HOUR", "60", "Default sends per account in any hour."},
	{"RATE_LIMIT_PER_DAY", "300", "Default sends per account in any 24 hours."},
	{"RATE_LIMIT_NEW_CHATS_PER_DAY", "30", "Default sends per account in any 24 hours to recipients who never wrote to the account (new chats)."},
	{"RATE_LIMIT_WARMUP", "20,40,80,160", "Daily send cap on day 1, 2, … after an account is linked (comma-separated, increasing); from the day after the last, the account's own limits; off: no warm-up."},
	{"RATE_LIMIT_PAUSE_463", "24h", "How long a send refused with error 463 (reach-out time-lock) pauses the account's sending, when WhatsApp has not said when the lock ends; see docs/sending.md."},
	{"RATE_LIMIT_FAILURE_BURST", "5", "Failed sends within RATE_LIMIT_FAILURE_WINDOW that pause the account's sending (FAILURE_BURST); 0 turns the check off."},
	{"RATE_LIMIT_FAILURE_WINDOW", "10m", "The window of RATE_LIMIT_FAILURE_BURST."},
	{"RATE_LIMIT_FAILURE_PAUSE", "30m", "How long a burst of failed sends pauses the account's sending."},
	{"RATE_LIMIT_PAUSE_RECHECK", "1m", "How long a send waiting on a pause without an end (pauseSending without until) sleeps before it looks again."},
	{"SWEEP_SEND_PAUSES_INTERVAL", "30s", "Period of the job that moves expired send pauses into their history and tells live rate-limit gauges (pauses end on time without it)."},
	{"SIMULATE", "false", "true: run the in-process WhatsApp simulator instead of WhatsApp (flag --simulate). An address (127.0.0.1:7900): use the shared simulator started there with `wagraph simulator`, as any number of instances can (docs/simulator.md). Either uses ./data/simulate.db unless DATABASE_URL is set."},
	{"SIMULATE_SCAN_DELAY", "8s", "In simulate mode, how long the simulated phone waits before it scans a QR code or enters a pairing code, so the code can be seen first."},
	{"JOB_WORKERS", "10", "Background jobs (River) this instance works at once, besides the sends."},
	{"SEND_LANE_WORKERS", "3", "Send jobs at once in each of the 32 send lanes (an account's messages keep to one lane; docs/sending.md)."},
	{"JOB_RETENTION", "168h", "How long finished jobs (completed, cancelled or failed for good) stay visible in the jobs query before they are deleted."},
	{"JOB_RESCUE_AFTER", "15m", "A job still running after this long is taken for stuck (its process died, e.g. kill -9) and run again by the leader. Jobs time out after 1m, or after this when it is shorter (a scrape job after 10m, or two thirds of this when shorter), so a job still alive is never taken for stuck."},
	{"SWEEP_TIMEOUTS_INTERVAL", "15s", "Period of the sweep_timeouts job (leader only): ends activations past their deadline and bans that are over."},
	{"SWEEP_PHONE_NUMBERS_INTERVAL", "5m", "Period of the sweep_phone_numbers job (leader only): repairs linked accounts without a phone number."},
	{"INSTANCE_ID", "", "With REDIS_URL (several instances): this instance's name in the lease table; unset: hostname-pid-random. A stable name (a pod name) lets a restarted instance take its accounts back at once instead of after LEASE_TTL."},
	{"LEASE_TTL", "15s", "With REDIS_URL: how long an instance's lease on an account lasts without renewal. After a crash (kill -9) its accounts move to the other instances about this long later; see docs/operations.md."},
	{"LEASE_RENEW_INTERVAL", "3s", "With REDIS_URL: how often an instance renews its leases (one statement), takes over lapsed ones and balances the load. At most half of LEASE_TTL."},
	{"LEASE_REBALANCE_BATCH", "10", "With REDIS_URL: accounts an instance above its fair share hands over per renew interval, so one that joins gets its share gradually."},
	{"ROUTE_TIMEOUT", "20s", "With REDIS_URL: how long a mutation taken by one instance waits for the instance that runs the account; then UNAVAILABLE naming that instance."},
}

// Load reads the environment and args (flags after the program name), then
// validates. getenv is os.Getenv outside tests.
func Load(args []string, getenv func(string) string) (Config, error) {
	env := func(key string) string {
		if v := strings.TrimSpace(getenv(key)); v != "" {
			return v
		}
		for _, s := range Settings {
			if s.Env == key {
				return s.Default
			}
		}
		return ""
	}
	var errs []error
	p := parser{env: env, errs: &errs}
	c := Config{
		ListenAddr:         env("LISTEN_ADDR"),
		DatabaseURL:        env("DATABASE_URL"),
		RedisURL:           env("REDIS_URL"),
		LogLevel:           env("LOG_LEVEL"),
		LogFormat:          env("LOG_FORMAT"),
		DBDebug:            p.bool("DB_DEBUG"),
		AllowedOrigins:     splitList(env("ALLOWED_ORIGINS")),
		AuthDisabled:       p.bool("AUTH_DISABLED"),
		MigrateOnStart:     p.bool("MIGRATE_ON_START"),
		Introspection:      p.bool("GRAPHQL_INTROSPECTION"),
		ComplexityLimit:    p.int("GRAPHQL_COMPLEXITY_LIMIT"),
		ParserTokenLimit:   p.int("GRAPHQL_TOKEN_LIMIT"),
		MaxRequestBytes:    int64(p.int("MAX_REQUEST_BYTES")),
		WSInitTimeout:      p.duration("WS_INIT_TIMEOUT"),
		WSKeepAlive:        p.duration("WS_KEEPALIVE_INTERVAL"),
		WSMaxSubscriptions: p.int("WS_MAX_SUBSCRIPTIONS"),
		WSWriteTimeout:     p.duration("WS_WRITE_TIMEOUT"),
		PubSubBuffer:       p.int("PUBSUB_BUFFER"),
		ShutdownTimeout:    p.duration("SHUTDOWN_TIMEOUT"),
		ActivationTimeout:  p.duration("ACTIVATION_TIMEOUT"),
		SessionIdleExpiry:  p.duration("SESSION_IDLE_EXPIRY"),
		RestoreConcurrency: p.int("RESTORE_CONCURRENCY"),
		ReconnectMaxTries:  p.int("RECONNECT_MAX_ATTEMPTS"),
		SimulateScanDelay:  p.duration("SIMULATE_SCAN_DELAY"),
		JobWorkers:         p.int("JOB_WORKERS"),
		SendLaneWorkers:    p.int("SEND_LANE_WORKERS"),
		JobRetention:       p.duration("JOB_RETENTION"),
	}
	c.JobRescueAfter = p.duration("JOB_RESCUE_AFTER")
	c.TimeoutSweepInterval = p.duration("SWEEP_TIMEOUTS_INTERVAL")
	c.PhoneSweepInterval = p.duration("SWEEP_PHONE_NUMBERS_INTERVAL")
	c.PubSubPublishTimeout = p.duration("PUBSUB_PUBLISH_TIMEOUT")
	c.InstanceID = env("INSTANCE_ID")
	c.LeaseTTL = p.duration("LEASE_TTL")
	c.LeaseRenewInterval = p.duration("LEASE_RENEW_INTERVAL")
	c.LeaseRebalanceBatch = p.int("LEASE_REBALANCE_BATCH")
	c.RouteTimeout = p.duration("ROUTE_TIMEOUT")
	c.TrustedProxies = splitList(env("TRUSTED_PROXIES"))
	c.AuthFreeFailures = p.int("AUTH_FREE_FAILURES")
	c.AuthBackoffMax = p.duration("AUTH_BACKOFF_MAX")
	c.ContactDefaultRegion = strings.ToUpper(env("CONTACT_DEFAULT_REGION"))
	c.ImportUploadMaxBytes = int64(p.int("IMPORT_UPLOAD_MAX_BYTES"))
	c.ScrapeGroupInterval = p.duration("SCRAPE_GROUP_INTERVAL")
	c.ScrapeRateLimitBackoff = p.duration("SCRAPE_RATE_LIMIT_BACKOFF")
	c.RateLimitPerMinute = p.int("RATE_LIMIT_PER_MINUTE")
	c.RateLimitPerHour = p.int("RATE_LIMIT_PER_HOUR")
	c.RateLimitPerDay = p.int("RATE_LIMIT_PER_DAY")
	c.RateLimitNewChatsPerDay = p.int("RATE_LIMIT_NEW_CHATS_PER_DAY")
	warmup, err := parseWarmup(env("RATE_LIMIT_WARMUP"))
	if err != nil {
		errs = append(errs, err)
	}
	c.RateLimitWarmup = warmup
	c.RateLimitPause463 = p.duration("RATE_LIMIT_PAUSE_463")
	c.RateLimitFailureBurst = p.int("RATE_LIMIT_FAILURE_BURST")
	c.RateLimitFailureWindow = p.duration("RATE_LIMIT_FAILURE_WINDOW")
	c.RateLimitFailurePause = p.duration("RATE_LIMIT_FAILURE_PAUSE")
	c.RateLimitPauseRecheck = p.duration("RATE_LIMIT_PAUSE_RECHECK")
	c.SendPauseSweepInterval = p.duration("SWEEP_SEND_PAUSES_INTERVAL")
	c.Simulate, c.SimulatorURL = p.simulate("SIMULATE")
	if (c.Simulate || c.SimulatorURL != "") && strings.TrimSpace(getenv("DATABASE_URL")) == "" {
		c.DatabaseURL = "sqlite:./data/simulate.db"
	}
	fs := flag.NewFlagSet("wagraph", flag.ContinueOnError)
	fs.SetOutput(new(strings.Builder))
	fs.StringVar(&c.ListenAddr, "listen", c.ListenAddr, "listen address (LISTEN_ADDR)")
	fs.StringVar(&c.LogLevel, "log-level", c.LogLevel, "log level (LOG_LEVEL)")
	simulate := fs.Bool("simulate", c.Simulate, "run the in-process WhatsApp simulator (SIMULATE)")
	if err := fs.Parse(args); err != nil {
		errs = append(errs, fmt.Errorf("flags: %w (known: --listen, --log-level, --simulate)", err))
	}
	if *simulate != c.Simulate { // the flag overrides SIMULATE either way
		c.Simulate = *simulate
		c.SimulatorURL = "" // --simulate: the in-process simulator
		if strings.TrimSpace(getenv("DATABASE_URL")) == "" {
			c.DatabaseURL = env("DATABASE_URL")
			if c.Simulate {
				c.DatabaseURL = "sqlite:./data/simulate.db"
			}
		}
	}
	errs = append(errs, c.validate()...)
	return c, errors.Join(errs...)
}

func (c Config) validate() []error {
	var errs []error
	host, port, err := net.SplitHostPort(c.ListenAddr)
	if err != nil {
		errs = append(errs, fmt.Errorf("LISTEN_ADDR %q: %v; use host:port, e.g. 127.0.0.1:8080", c.ListenAddr, err))
	} else if _, err := strconv.Atoi(port); err != nil {
		errs = append(errs, fmt.Errorf("LISTEN_ADDR %q: port must be a number", c.ListenAddr))
	}
	if c.AuthDisabled && err == nil && !IsLoopback(host) {
		errs = append(errs, fmt.Errorf("AUTH_DISABLED=true is refused on non-loopback address %q: listen on 127.0.0.1 or keep auth on", c.ListenAddr))
	}
	if c.RedisURL != "" {
		if u, err := url.Parse(c.RedisURL); err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") {
			errs = append(errs, fmt.Errorf("REDIS_URL %q: use redis://host:6379/0 (or rediss:// for TLS)", Redact(c.RedisURL)))
		}
	}
	switch c.LogLevel {
	case "trace", "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("LOG_LEVEL %q: use trace, debug, info, warn or error", c.LogLevel))
	}
	if c.LogFormat != "console" && c.LogFormat != "json" {
		errs = append(errs, fmt.Errorf("LOG_FORMAT %q: use console or json", c.LogFormat))
	}
	for _, o := range c.AllowedOrigins {
		if u, err := url.Parse(o); err != nil || u.Scheme == "" || u.Host == "" {
			errs = append(errs, fmt.Errorf("ALLOWED_ORIGINS entry %q: use scheme://host[:port], e.g. https://admin.example.com", o))
		}
	}
	for _, p := range c.TrustedProxies {
		if _, err := netip.ParsePrefix(p); err != nil {
			if _, err := netip.ParseAddr(p); err != nil {
				errs = append(errs, fmt.Errorf("TRUSTED_PROXIES entry %q: use an IP address or a network such as 10.0.0.0/8", p))
			}
		}
	}
	if r := c.ContactDefaultRegion; r != "" && (len(r) != 2 || strings.Trim(r, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != "") {
		errs = append(errs, fmt.Errorf("CONTACT_DEFAULT_REGION %q: use a two-letter ISO 3166 country code such as DE, or leave it unset", r))
	}
	if c.LeaseRenewInterval > 0 && c.LeaseTTL > 0 && 2*c.LeaseRenewInterval > c.LeaseTTL {
		errs = append(errs, fmt.Errorf("LEASE_RENEW_INTERVAL %s is more than half of LEASE_TTL %s: a lease would lapse after one late renewal; renew more often or raise LEASE_TTL", c.LeaseRenewInterval, c.LeaseTTL))
	}
	if !validInstanceID(c.InstanceID) {
		errs = append(errs, fmt.Errorf("INSTANCE_ID %q: use letters, digits, dots and dashes (a host or pod name), at most 200 characters", c.InstanceID))
	}
	positive := map[string]int{
		"GRAPHQL_COMPLEXITY_LIMIT": c.ComplexityLimit, "GRAPHQL_TOKEN_LIMIT": c.ParserTokenLimit,
		"MAX_REQUEST_BYTES": int(c.MaxRequestBytes), "WS_MAX_SUBSCRIPTIONS": c.WSMaxSubscriptions,
		"PUBSUB_BUFFER": c.PubSubBuffer, "RESTORE_CONCURRENCY": c.RestoreConcurrency, "RECONNECT_MAX_ATTEMPTS": c.ReconnectMaxTries,
		"AUTH_FREE_FAILURES":    c.AuthFreeFailures,
		"JOB_WORKERS":           c.JobWorkers,
		"SEND_LANE_WORKERS":     c.SendLaneWorkers,
		"LEASE_REBALANCE_BATCH": c.LeaseRebalanceBatch,

		"RATE_LIMIT_PER_MINUTE": c.RateLimitPerMinute, "RATE_LIMIT_PER_HOUR": c.RateLimitPerHour,
		"RATE_LIMIT_PER_DAY": c.RateLimitPerDay, "RATE_LIMIT_NEW_CHATS_PER_DAY": c.RateLimitNewChatsPerDay,
		"IMPORT_UPLOAD_MAX_BYTES": int(c.ImportUploadMaxBytes),
	}
	if c.RateLimitFailureBurst < 0 || c.RateLimitFailureBurst == 1 {
		errs = append(errs, fmt.Errorf("RATE_LIMIT_FAILURE_BURST %d: use 2 or more failed sends, or 0 to turn the check off", c.RateLimitFailureBurst))
	}
	pauses := map[string]time.Duration{"RATE_LIMIT_PAUSE_463": c.RateLimitPause463, "RATE_LIMIT_FAILURE_WINDOW": c.RateLimitFailureWindow,
		"RATE_LIMIT_FAILURE_PAUSE": c.RateLimitFailurePause, "RATE_LIMIT_PAUSE_RECHECK": c.RateLimitPauseRecheck, "SWEEP_SEND_PAUSES_INTERVAL": c.SendPauseSweepInterval}
	for _, s := range Settings { // fixed order for stable messages
		if d, ok := pauses[s.Env]; ok && d <= 0 {
			errs = append(errs, fmt.Errorf("%s must be a positive duration such as 30m", s.Env))
		}
	}
	for _, s := range Settings { // fixed order for stable messages
		if v, ok := positive[s.Env]; ok && v <= 0 {
			errs = append(errs, fmt.Errorf("%s must be a positive number", s.Env))
		}
	}
	return errs
}

// validInstanceID accepts an empty INSTANCE_ID or a host-like name: it
// becomes part of Redis channel names and log lines.
func validInstanceID(id string) bool {
	if len(id) > 200 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// IsLoopback reports whether host names only this machine.
func IsLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Redacted returns the configuration as key/value pairs for a debug log line,
// with passwords in URLs masked.
func (c Config) Redacted() map[string]any {
	return map[string]any{
		"listen_addr": c.ListenAddr, "database_url": Redact(c.DatabaseURL), "redis_url": Redact(c.RedisURL),
		"log_level": c.LogLevel, "log_format": c.LogFormat, "allowed_origins": c.AllowedOrigins,
		"auth_disabled": c.AuthDisabled, "migrate_on_start": c.MigrateOnStart, "introspection": c.Introspection,
		"complexity_limit": c.ComplexityLimit, "parser_token_limit": c.ParserTokenLimit, "max_request_bytes": c.MaxRequestBytes,
		"ws_init_timeout": c.WSInitTimeout.String(), "ws_keepalive": c.WSKeepAlive.String(), "ws_max_subscriptions": c.WSMaxSubscriptions, "ws_write_timeout": c.WSWriteTimeout.String(),
		"pubsub_buffer": c.PubSubBuffer, "shutdown_timeout": c.ShutdownTimeout.String(),
		"activation_timeout": c.ActivationTimeout.String(), "session_idle_expiry": c.SessionIdleExpiry.String(),
		"restore_concurrency": c.RestoreConcurrency, "reconnect_max_attempts": c.ReconnectMaxTries, "simulate": c.Simulate, "simulator_url": c.SimulatorURL,
		"simulate_scan_delay":    c.SimulateScanDelay.String(),
		"pubsub_publish_timeout": c.PubSubPublishTimeout.String(), "trusted_proxies": c.TrustedProxies,
		"auth_free_failures": c.AuthFreeFailures, "auth_backoff_max": c.AuthBackoffMax.String(),
		"job_workers": c.JobWorkers, "send_lane_workers": c.SendLaneWorkers, "job_retention": c.JobRetention.String(),
		"job_rescue_after": c.JobRescueAfter.String(), "sweep_timeouts_interval": c.TimeoutSweepInterval.String(),
		"sweep_phone_numbers_interval": c.PhoneSweepInterval.String(),
		"contact_default_region":       c.ContactDefaultRegion,
		"import_upload_max_bytes":      c.ImportUploadMaxBytes,
		"instance_id":                  c.InstanceID, "lease_ttl": c.LeaseTTL.String(), "lease_renew_interval": c.LeaseRenewInterval.String(),
		"lease_rebalance_batch": c.LeaseRebalanceBatch, "route_timeout": c.RouteTimeout.String(),
	}
}

// Redact masks the password of a URL; other strings pass unchanged.
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err == nil && u.User != nil {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
			return u.String()
		}
		return raw
	}
	// A password with characters such as '/', '#' or '%' unescaped makes the
	// URL unparsable or misread; mask everything that may be credentials.
	if at, scheme := strings.LastIndex(raw, "@"), strings.Index(raw, "://"); scheme >= 0 && at > scheme {
		return raw[:scheme+3] + "xxxxx" + raw[at:]
	}
	return raw
}

// FromOS loads the configuration of this process.
func FromOS(args []string) (Config, error) { return Load(args, os.Getenv) }

func splitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if p := strings.TrimSpace(part); p != "" {
			out = append(out, strings.TrimRight(p, "/"))
		}
	}
	return out
}

type parser struct {
	env  func(string) string
	errs *[]error
}

func (p parser) bool(key string) bool {
	v, err := strconv.ParseBool(p.env(key))
	if err != nil {
		*p.errs = append(*p.errs, fmt.Errorf("%s=%q: use true or false", key, p.env(key)))
	}
	return v
}

func (p parser) int(key string) int {
	v, err := strconv.Atoi(p.env(key))
	if err != nil {
		*p.errs = append(*p.errs, fmt.Errorf("%s=%q: use a whole number", key, p.env(key)))
	}
	return v
}

func (p parser) duration(key string) time.Duration {
	v, err := time.ParseDuration(p.env(key))
	if err != nil || v <= 0 {
		*p.errs = append(*p.errs, fmt.Errorf("%s=%q: use a positive duration such as 30s, 5m or 336h", key, p.env(key)))
	}
	return v
}

// parseWarmup reads RATE_LIMIT_WARMUP: daily caps for day 1, 2, … after
// linking, each at least 1 and not below the day before; "off" turns the
// warm-up off.
func parseWarmup(v string) ([]int, error) {
	if strings.EqualFold(v, "off") {
		return nil, nil
	}
	var caps []int
	for i, f := range strings.Split(v, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > 100_000 || (i > 0 && n < caps[i-1]) {
			return nil, fmt.Errorf("RATE_LIMIT_WARMUP %q: give the daily cap for day 1, 2, … as increasing numbers from 1 to 100000, e.g. 20,40,80,160, or off", v)
		}
		caps = append(caps, n)
	}
	return caps, nil
}
