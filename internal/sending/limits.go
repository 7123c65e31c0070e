// Package sending holds the rules for sending messages from an account:
// its send limits (defaults from config, overrides set with
// setRateLimits), the warm-up of a newly linked number, the lower limit for
// new chats, and the status of each window for gauges. The admission
// decisions themselves are internal/ratelimit's; this package says which
// limits an account has today.
package sending

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"github.com/uptrace/bun"

	"wagraph/internal/apperr"
	"wagraph/internal/bus"
	"wagraph/internal/ratelimit"
	"wagraph/internal/store"
)

// Day is the window of a daily limit; the warm-up caps it.
const Day = 24 * time.Hour

// Defaults are the limits of every account without its own (config).
type Defaults struct {
	// Limits apply to every send of the account, shortest window first.
	Limits []ratelimit.Limit
	// NewChatsPerDay bounds sends, in any 24 hours, to recipients who never
	// wrote to the account.
	NewChatsPerDay int
	// Warmup is the daily cap on day 1, 2, … after the account was linked;
	// from the day after the last, no cap. Nil: no warm-up.
	Warmup []int
}

// Validate checks the defaults as setRateLimits checks an account's.
func (d Defaults) Validate() error {
	if err := validate("defaults", d.Limits, d.NewChatsPerDay); err != nil {
		return err
	}
	for i, c := range d.Warmup {
		if c < 1 || (i > 0 && c < d.Warmup[i-1]) {
			return apperr.Invalid("warmup", fmt.Sprintf("warm-up cap %d on day %d: caps must be at least 1 and never decrease", c, i+1), "Give increasing daily caps such as 20,40,80,160.")
		}
	}
	return nil
}

// AccountLimits are an account's configured limits, before the warm-up.
type AccountLimits struct {
	Limits         []ratelimit.Limit
	NewChatsPerDay int
	// Custom reports limits set with SetLimits; false: the defaults.
	Custom bool
	// UpdatedAt is when they were set (zero for the defaults).
	UpdatedAt time.Time
}

// Effective are the limits an account sends under now.
type Effective struct {
	// Configured are the account's own limits (or the defaults).
	Configured AccountLimits
	// Limits are Configured.Limits with the daily window capped by the
	// warm-up: what every send is checked against.
	Limits []ratelimit.Limit
	// NewChats is the limit on sends to new chats, also capped by the
	// warm-up; a send to a new chat is checked against Limits and NewChats.
	NewChats ratelimit.Limit
	// LinkedAt is when the number was last linked (paired); zero when the
	// account was never linked.
	LinkedAt time.Time
	// WarmupDay is the day since linking, 1 on the day it was linked; 0
	// when it was never linked.
	WarmupDay int
	// WarmupCap is today's daily cap from the warm-up; 0 when the warm-up is
	// over or off.
	WarmupCap int
}

// WarmupCap is the warm-up's daily cap on day (1 = the day of linking; 0 =
// not linked yet, which gets the first day's cap): 0 when the schedule is
// over or empty.
func WarmupCap(schedule []int, day int) int {
	if len(schedule) == 0 {
		return 0
	}
	if day < 1 {
		day = 1
	}
	if day > len(schedule) {
		return 0
	}
	return schedule[day-1]
}

// WarmupDay is the day since linkedAt at now: 1 during the first 24 hours,
// 2 during the next, and so on; 0 when linkedAt is zero.
func WarmupDay(linkedAt, now time.Time) int {
	if linkedAt.IsZero() {
		return 0
	}
	if now.Before(linkedAt) {
		return 1
	}
	return int(now.Sub(linkedAt)/Day) + 1
}

// Apply caps limits and the new-chats limit with a daily cap (0: none): a
// limit over exactly one day gets at most dailyCap; without one, a daily
// limit of dailyCap is added in window order.
func Apply(limits []ratelimit.Limit, newChatsPerDay, dailyCap int) ([]ratelimit.Limit, ratelimit.Limit) {
	out := make([]ratelimit.Limit, 0, len(limits)+1)
	newChats := ratelimit.Limit{Max: newChatsPerDay, Window: Day}
	if dailyCap <= 0 {
		return append(out, limits...), newChats
	}
	newChats.Max = min(newChats.Max, dailyCap)
	added := false
	for _, l := range limits {
		switch {
		case l.Window == Day:
			l.Max = min(l.Max, dailyCap)
			added = true
		case l.Window > Day && !added:
			out = append(out, ratelimit.Limit{Max: dailyCap, Window: Day})
			added = true
		}
		out = append(out, l)
	}
	if !added {
		out = append(out, ratelimit.Limit{Max: dailyCap, Window: Day})
	}
	return out, newChats
}

// NewChatsKey is the limiter key of an account's new-chat sends.
func NewChatsKey(accountID string) string { return accountID + ":new-chats" }

// Options tune the Policy.
type Options struct {
	// Now defaults to time.Now; tests pass a fake clock.
	Now func() time.Time
	// Pauses tune the pauses ban signals set (pause.go).
	Pauses PauseOptions
	// Bus, when set, carries rateLimitChanged events (publish.go).
	Bus bus.Bus
	// PublishInterval coalesces the events of admitted sends: at most one
	// per account per interval. Default 1s.
	PublishInterval time.Duration
	// Metrics counts decisions and pauses; nil counts nothing.
	Metrics Metrics
	Logger  zerolog.Logger
}

// Policy knows every account's limits and pauses and reports their usage.
type Policy struct {
	db       *store.DB
	limiter  ratelimit.Limiter
	defaults Defaults
	now      func() time.Time
	pauses   PauseOptions
	metrics  Metrics
	log      zerolog.Logger
	pub      *publisher
}

// New builds the policy; defaults must pass Validate.
func New(db *store.DB, limiter ratelimit.Limiter, defaults Defaults, opts Options) (*Policy, error) {
	if err := defaults.Validate(); err != nil {
		return nil, err
	}
	if err := opts.Pauses.Validate(); err != nil {
		return nil, err
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Metrics == nil {
		opts.Metrics = noMetrics{}
	}
	p := &Policy{db: db, limiter: limiter, defaults: defaults, now: opts.Now,
		pauses: opts.Pauses.withDefaults(), metrics: opts.Metrics,
		log: opts.Logger.With().Str("component", "sending").Logger()}
	p.pub = newPublisher(p, opts.Bus, opts.PublishInterval)
	return p, nil
}

// Limiter is the limiter the policy reads (and senders ask).
func (p *Policy) Limiter() ratelimit.Limiter { return p.limiter }

// limitsRow is an account's own limits as stored in account_send_limits.
type limitsRow struct {
	bun.BaseModel `bun:"table:account_send_limits"`

	AccountID      string    `bun:"account_id,pk"`
	Limits         string    `bun:"limits,notnull"`
	NewChatsPerDay *int      `bun:"new_chats_per_day"`
	UpdatedAt      time.Time `bun:"updated_at,notnull"`
}

type storedLimit struct {
	Max      int   `json:"max"`
	WindowMs int64 `json:"windowMs"`
}

// validate checks limits (field prefix for errors) and newChats.
func validate(field string, limits []ratelimit.Limit, newChats int) error {
	// The key only has to be valid; the account id is checked on its own.
	if err := ratelimit.Validate("account", limits); err != nil {
		var e *apperr.Error
		if errors.As(err, &e) && e.Field != "" {
			c := *e
			c.Field = field + "." + strings.Replace(e.Field, ".window", ".windowSeconds", 1)
			return &c
		}
		return err
	}
	if newChats < 1 || newChats > ratelimit.MaxPerWindow {
		return apperr.Invalid(field+".newChatsPerDay", fmt.Sprintf("newChatsPerDay %d: must be between 1 and %d", newChats, ratelimit.MaxPerWindow), "Set how many new chats a day the account may open, e.g. 30 (see docs/sending.md).")
	}
	return nil
}

// SetLimits stores an account's own limits, replacing the defaults;
// newChatsPerDay nil keeps the default for new chats. Bad limits are
// INVALID_INPUT naming the field; an unknown account NOT_FOUND.
func (p *Policy) SetLimits(ctx context.Context, accountID string, limits []ratelimit.Limit, newChatsPerDay *int) (AccountLimits, error) {
	nc := p.defaults.NewChatsPerDay
	if newChatsPerDay != nil {
		nc = *newChatsPerDay
	}
	if err := validate("input", limits, nc); err != nil {
		return AccountLimits{}, err
	}
	if err := p.accountExists(ctx, accountID); err != nil {
		return AccountLimits{}, err
	}
	stored := make([]storedLimit, len(limits))
	for i, l := range limits {
		stored[i] = storedLimit{Max: l.Max, WindowMs: l.Window.Milliseconds()}
	}
	b, _ := json.Marshal(stored) // plain structs always marshal
	row := &limitsRow{AccountID: accountID, Limits: string(b), NewChatsPerDay: newChatsPerDay, UpdatedAt: p.now().UTC().Truncate(time.Microsecond)}
	_, err := p.db.NewInsert().Model(row).
		On("CONFLICT (account_id) DO UPDATE").
		Set("limits = EXCLUDED.limits").
		Set("new_chats_per_day = EXCLUDED.new_chats_per_day").
		Set("updated_at = EXCLUDED.updated_at").
		Exec(ctx)
	if err != nil {
		return AccountLimits{}, fmt.Errorf("store rate limits: %w", err)
	}
	p.publishNow(accountID)
	return p.configured(row)
}

// ResetLimits drops an account's own limits: it sends under the defaults
// again. NOT_FOUND for an unknown account.
func (p *Policy) ResetLimits(ctx context.Context, accountID string) (AccountLimits, error) {
	if err := p.accountExists(ctx, accountID); err != nil {
		return AccountLimits{}, err
	}
	if _, err := p.db.NewDelete().Model((*limitsRow)(nil)).Where("account_id = ?", accountID).Exec(ctx); err != nil {
		return AccountLimits{}, fmt.Errorf("reset rate limits: %w", err)
	}
	p.publishNow(accountID)
	return p.configured(nil)
}

func notFound(accountID string) error {
	return apperr.Newf(apperr.NotFound, "account %q not found", accountID)
}

func (p *Policy) accountExists(ctx context.Context, accountID string) error {
	ok, err := p.db.NewSelect().Table("accounts").Where("id = ?", accountID).Exists(ctx)
	if err != nil {
		return fmt.Errorf("look up account: %w", err)
	}
	if !ok {
		return notFound(accountID)
	}
	return nil
}

func (p *Policy) configured(row *limitsRow) (AccountLimits, error) {
	if row == nil {
		return AccountLimits{Limits: append([]ratelimit.Limit(nil), p.defaults.Limits...), NewChatsPerDay: p.defaults.NewChatsPerDay}, nil
	}
	var stored []storedLimit
	if err := json.Unmarshal([]byte(row.Limits), &stored); err != nil {
		return AccountLimits{}, fmt.Errorf("account %s: stored rate limits: %w", row.AccountID, err)
	}
	a := AccountLimits{Custom: true, UpdatedAt: row.UpdatedAt, NewChatsPerDay: p.defaults.NewChatsPerDay}
	for _, s := range stored {
		a.Limits = append(a.Limits, ratelimit.Limit{Max: s.Max, Window: time.Duration(s.WindowMs) * time.Millisecond})
	}
	if row.NewChatsPerDay != nil {
		a.NewChatsPerDay = *row.NewChatsPerDay
	}
	return a, nil
}

// Limits returns the limits accountID sends under now. NOT_FOUND when
// there is no such account.
func (p *Policy) Limits(ctx context.Context, accountID string) (Effective, error) {
	// One query (every send asks): the account, its own limits if any, and
	// when it was linked = paired: the newest move into WARMING (only a
	// pairing gets there), so a number linked again starts its warm-up
	// again.
	var row accountLimitsRow
	err := p.db.Get(ctx, p.db, &row, `SELECT a.id, l.limits, l.new_chats_per_day, l.updated_at,
		(SELECT h.at FROM account_status_history AS h WHERE h.account_id = a.id AND h.to_status = $1 ORDER BY h.version DESC LIMIT 1) AS linked_at
		FROM accounts AS a LEFT JOIN account_send_limits AS l ON l.account_id = a.id WHERE a.id = $2`, "WARMING", accountID)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return Effective{}, notFound(accountID)
	case err != nil:
		return Effective{}, fmt.Errorf("read rate limits: %w", err)
	}
	var own *limitsRow
	if row.Limits != nil {
		own = &limitsRow{AccountID: row.ID, Limits: *row.Limits, NewChatsPerDay: row.NewChatsPerDay, UpdatedAt: row.UpdatedAt}
	}
	conf, err := p.configured(own)
	if err != nil {
		return Effective{}, err
	}
	e := Effective{Configured: conf, LinkedAt: row.LinkedAt}
	e.WarmupDay = WarmupDay(row.LinkedAt, p.now())
	e.WarmupCap = WarmupCap(p.defaults.Warmup, e.WarmupDay)
	e.Limits, e.NewChats = Apply(conf.Limits, conf.NewChatsPerDay, e.WarmupCap)
	return e, nil
}

// accountLimitsRow is what Limits reads: an account, its own limits (nil
// when it has none) and when it was linked (zero when never).
type accountLimitsRow struct {
	ID             string    `bun:"id"`
	Limits         *string   `bun:"limits"`
	NewChatsPerDay *int      `bun:"new_chats_per_day"`
	UpdatedAt      time.Time `bun:"updated_at"`
	LinkedAt       time.Time `bun:"linked_at"`
}

// Status is an account's limits now and how much of each is used.
type Status struct {
	Effective
	// Windows are the usage of Effective.Limits, in their order.
	Windows []ratelimit.WindowStatus
	// NewChats is the usage of Effective.NewChats.
	NewChats ratelimit.WindowStatus
	// Pause is the pause in force; nil when the account may send.
	Pause *Pause
}

// Status reports accountID's limits and their usage, recording nothing.
func (p *Policy) Status(ctx context.Context, accountID string) (*Status, error) {
	e, err := p.Limits(ctx, accountID)
	if err != nil {
		return nil, err
	}
	ws, err := p.limiter.Status(ctx, accountID, e.Limits)
	if err != nil {
		return nil, err
	}
	nc, err := p.limiter.Status(ctx, NewChatsKey(accountID), []ratelimit.Limit{e.NewChats})
	if err != nil {
		return nil, err
	}
	pz, err := p.CurrentPause(ctx, accountID)
	if err != nil {
		return nil, err
	}
	return &Status{Effective: e, Windows: ws, NewChats: nc[0], Pause: pz}, nil
}
