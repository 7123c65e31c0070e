package sending

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/uptrace/bun"

	"wagraph/internal/apperr"
	"wagraph/internal/ratelimit"
	"wagraph/internal/store"
)

// PauseReason says why an account's sending is paused; docs/sending.md says
// what to do for each.
type PauseReason string

// The pause reasons.
const (
	// PauseManual: an operator paused the account (pauseSending).
	PauseManual PauseReason = "MANUAL"
	// PauseReachoutTimelock: WhatsApp reported a reach-out time-lock (no new
	// chats until it ends), with its end time.
	PauseReachoutTimelock PauseReason = "REACHOUT_TIMELOCK"
	// PauseTemporaryBan: WhatsApp banned the number for a while (codes 101–106).
	PauseTemporaryBan PauseReason = "TEMPORARY_BAN"
	// PauseSendRefused463: WhatsApp refused a send with error 463 (the
	// reach-out time-lock), without saying for how long.
	PauseSendRefused463 PauseReason = "SEND_REFUSED_463"
	// PauseFailureBurst: too many sends failed within a short time.
	PauseFailureBurst PauseReason = "FAILURE_BURST"
)

// PauseReasons lists every reason, for metrics and docs.
func PauseReasons() []PauseReason {
	return []PauseReason{PauseManual, PauseReachoutTimelock, PauseTemporaryBan, PauseSendRefused463, PauseFailureBurst}
}

// Pause is an account's sending paused: Admit refuses every send until it
// ends (Until) or, for an open-ended pause (Until zero), until it is resumed.
type Pause struct {
	Reason PauseReason `json:"reason"`
	// Code is WhatsApp's code where there is one (463, a ban's 101–106); 0 otherwise.
	Code int `json:"code,omitempty"`
	// Since is when the pause began.
	Since time.Time `json:"since"`
	// Until is when it ends by itself; zero: when resumed (resumeSending).
	Until time.Time `json:"until,omitzero"`
	// Message says what happened, for people.
	Message string `json:"message"`
}

// OpenEnded reports a pause that lasts until resumed.
func (p *Pause) OpenEnded() bool { return p.Until.IsZero() }

// ActiveAt reports whether the pause still holds at t.
func (p *Pause) ActiveAt(t time.Time) bool { return p.Until.IsZero() || t.Before(p.Until) }

// endsAfter reports whether p ends later than q (open-ended is latest).
func (p *Pause) endsAfter(q *Pause) bool {
	if q.Until.IsZero() {
		return false
	}
	return p.Until.IsZero() || p.Until.After(q.Until)
}

// replaces reports whether a new pause takes the place of the current one:
// when it ends later, except that WhatsApp's own statement of a time-lock
// and its end wins over a 463 pause, whose end is only a guess, either way.
func (p *Pause) replaces(cur *Pause) bool {
	switch {
	case cur.Reason == PauseSendRefused463 && p.Reason == PauseReachoutTimelock:
		return true
	case cur.Reason == PauseReachoutTimelock && p.Reason == PauseSendRefused463:
		// A 463 during a known time-lock says nothing new.
		return false
	}
	return p.endsAfter(cur)
}

// PauseOptions tune the pauses ban signals set. Zero fields take the
// defaults (see docs/sending.md for the reasoning).
type PauseOptions struct {
	// Recheck is the RetryAt Admit gives for an open-ended pause: how long a
	// waiting send sleeps before it asks again. Default 1m.
	Recheck time.Duration
	// Refused463 is how long error 463 pauses the account: WhatsApp does
	// not say on the send, and time-locks are reported to last hours to a
	// day. Default 24h.
	Refused463 time.Duration
	// BanWithoutExpiry is how long a temporary ban without a stated expiry
	// pauses sending; the account reconnects then and a ban still in force
	// pauses it again. Default 1h (the account lifecycle's retry).
	BanWithoutExpiry time.Duration
	// FailureBurst failed sends within FailureWindow pause the account for
	// FailurePause. 0: default 5; a negative value turns the check off.
	FailureBurst  int
	FailureWindow time.Duration // default 10m
	FailurePause  time.Duration // default 30m
}

func (o PauseOptions) withDefaults() PauseOptions {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.Recheck, time.Minute)
	def(&o.Refused463, 24*time.Hour)
	def(&o.BanWithoutExpiry, time.Hour)
	def(&o.FailureWindow, 10*time.Minute)
	def(&o.FailurePause, 30*time.Minute)
	if o.FailureBurst == 0 {
		o.FailureBurst = 5
	}
	return o
}

// Validate checks settings from config.
func (o PauseOptions) Validate() error {
	if o.FailureBurst == 1 {
		return apperr.Invalid("failureBurst", "a failure burst of 1 would pause the account at its first failed send", "Use 2 or more failed sends (default 5), or a negative number to turn the check off.")
	}
	if o.FailureWindow > ratelimit.MaxWindow || (o.FailureWindow > 0 && o.FailureWindow%time.Millisecond != 0) {
		return apperr.Invalid("failureWindow", fmt.Sprintf("failure window %s: must be whole milliseconds up to %s", o.FailureWindow, ratelimit.MaxWindow), "Use a window such as 10m.")
	}
	return nil
}

// MaxPauseNote bounds the note an operator gives pauseSending.
const MaxPauseNote = 500

// pauseRow is an account's current pause (account_send_pauses).
type pauseRow struct {
	bun.BaseModel `bun:"table:account_send_pauses"`

	AccountID   string     `bun:"account_id,pk"`
	HistoryID   int64      `bun:"history_id,notnull"`
	Reason      string     `bun:"reason,notnull"`
	Code        int        `bun:"code,notnull"`
	Message     string     `bun:"message,notnull"`
	PausedAt    time.Time  `bun:"paused_at,notnull"`
	PausedUntil *time.Time `bun:"paused_until"`
}

func (r *pauseRow) pause() *Pause {
	p := &Pause{Reason: PauseReason(r.Reason), Code: r.Code, Since: r.PausedAt.UTC(), Message: r.Message}
	if r.PausedUntil != nil {
		p.Until = r.PausedUntil.UTC()
	}
	return p
}

// pauseHistoryRow is one pause that took effect (account_send_pause_history).
type pauseHistoryRow struct {
	bun.BaseModel `bun:"table:account_send_pause_history"`

	ID          int64      `bun:"id,pk,autoincrement"`
	AccountID   string     `bun:"account_id,notnull"`
	Reason      string     `bun:"reason,notnull"`
	Code        int        `bun:"code,notnull"`
	Message     string     `bun:"message,notnull"`
	PausedAt    time.Time  `bun:"paused_at,notnull"`
	PausedUntil *time.Time `bun:"paused_until"`
	EndedAt     *time.Time `bun:"ended_at"`
	EndReason   *string    `bun:"end_reason"`
}

// How a pause ended, in its history row.
const (
	endResumed  = "RESUMED"
	endExpired  = "EXPIRED"
	endReplaced = "REPLACED"
	endLifted   = "LIFTED"
)

func dbTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

func optDBTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := dbTime(t)
	return &u
}

// CurrentPause returns the pause in force for accountID now, nil when none
// (an expired pause is none, whether or not the sweep has moved it out).
func (p *Policy) CurrentPause(ctx context.Context, accountID string) (*Pause, error) {
	row, err := readPause(ctx, p.db, p.db, accountID)
	if err != nil || row == nil {
		return nil, err
	}
	if pz := row.pause(); pz.ActiveAt(p.now()) {
		return pz, nil
	}
	return nil, nil
}

func readPause(ctx context.Context, db *store.DB, conn bun.IDB, accountID string) (*pauseRow, error) {
	var row pauseRow
	err := db.Get(ctx, conn, &row, "SELECT * FROM account_send_pauses WHERE account_id = $1", accountID) // every send
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("read send pause: %w", err)
	}
	return &row, nil
}

// Pause pauses accountID's sending on an operator's request: until until
// (zero: until resumed), with note as the message. A pause already in force
// that ends later stays (it is returned). INVALID_INPUT for an end in the
// past or a note too long, NOT_FOUND for an unknown account.
func (p *Policy) Pause(ctx context.Context, accountID string, until time.Time, note string) (*Pause, error) {
	now := p.now()
	if !until.IsZero() && !until.After(now) {
		return nil, apperr.Invalid("input.until", fmt.Sprintf("until %s is not in the future", until.UTC().Format(time.RFC3339)), "Give a time in the future, or leave until out to pause until resumeSending.")
	}
	if utf8.RuneCountInString(note) > MaxPauseNote {
		return nil, apperr.Invalid("input.note", fmt.Sprintf("the note has more than %d characters", MaxPauseNote), "Shorten the note.")
	}
	msg := "Paused by an operator."
	if note != "" {
		msg = "Paused by an operator: " + note
	}
	return p.pause(ctx, accountID, Pause{Reason: PauseManual, Since: now, Until: until, Message: msg})
}

// Signal pauses accountID's sending for a ban signal (any reason but
// MANUAL): WhatsApp's reach-out time-lock, a temporary ban, error 463 or a
// burst of failures. Since defaults to now. A pause already in force that
// ends later stays; the pause in force afterwards is returned.
//
// A signal without an end gets one, so that sending resumes by itself: a
// temporary ban PauseOptions.BanWithoutExpiry (the account reconnects then,
// and a ban still in force pauses it again), any other signal Refused463.
func (p *Policy) Signal(ctx context.Context, accountID string, s Pause) (*Pause, error) {
	if s.Reason == PauseManual || s.Reason == "" {
		return nil, apperr.Invalid("reason", fmt.Sprintf("pause reason %q is not a ban signal", s.Reason), "Use Pause for an operator's pause.")
	}
	if s.Since.IsZero() {
		s.Since = p.now()
	}
	if s.Until.IsZero() {
		d := p.pauses.Refused463
		if s.Reason == PauseTemporaryBan {
			d = p.pauses.BanWithoutExpiry
		}
		s.Until = p.now().Add(d)
	}
	return p.pause(ctx, accountID, s)
}

// pause applies np to accountID in one transaction: it replaces the
// current pause when np ends later (see Pause.replaces), closing the old
// one's history row, and records np in the history.
func (p *Policy) pause(ctx context.Context, accountID string, np Pause) (*Pause, error) {
	np.Since = dbTime(np.Since)
	if !np.Until.IsZero() {
		np.Until = dbTime(np.Until)
	}
	var cur *Pause
	applied := false
	err := p.db.InTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if err := p.lockAccount(ctx, tx, accountID); err != nil {
			return err
		}
		old, err := readPause(ctx, p.db, tx, accountID)
		if err != nil {
			return err
		}
		now := dbTime(p.now())
		if old != nil {
			op := old.pause()
			if op.ActiveAt(now) && !np.replaces(op) {
				cur = op
				return nil
			}
			end, how := now, endReplaced
			if !op.ActiveAt(now) {
				end, how = op.Until, endExpired
			}
			if err := endHistory(ctx, tx, old.HistoryID, end, how); err != nil {
				return err
			}
		}
		h := &pauseHistoryRow{AccountID: accountID, Reason: string(np.Reason), Code: np.Code, Message: np.Message, PausedAt: np.Since, PausedUntil: optDBTime(np.Until)}
		if _, err := tx.NewInsert().Model(h).Returning("id").Exec(ctx); err != nil {
			return fmt.Errorf("record send pause: %w", err)
		}
		row := &pauseRow{AccountID: accountID, HistoryID: h.ID, Reason: h.Reason, Code: h.Code, Message: h.Message, PausedAt: h.PausedAt, PausedUntil: h.PausedUntil}
		_, err = tx.NewInsert().Model(row).On("CONFLICT (account_id) DO UPDATE").
			Set("history_id = EXCLUDED.history_id").Set("reason = EXCLUDED.reason").Set("code = EXCLUDED.code").
			Set("message = EXCLUDED.message").Set("paused_at = EXCLUDED.paused_at").Set("paused_until = EXCLUDED.paused_until").
			Exec(ctx)
		if err != nil {
			return fmt.Errorf("store send pause: %w", err)
		}
		cur, applied = &np, true
		return nil
	})
	if err != nil {
		return nil, err
	}
	if applied {
		p.metrics.Paused(np.Reason)
		ev := p.log.Warn().Str("account_id", accountID).Str("reason", string(np.Reason))
		if np.Code != 0 {
			ev = ev.Int("code", np.Code)
		}
		if !np.Until.IsZero() {
			ev = ev.Time("until", np.Until)
		}
		ev.Msg("sending paused: " + np.Message)
		p.publishNow(accountID)
	}
	return cur, nil
}

func endHistory(ctx context.Context, tx bun.IDB, id int64, at time.Time, how string) error {
	_, err := tx.NewUpdate().Model((*pauseHistoryRow)(nil)).
		Set("ended_at = ?", dbTime(at)).Set("end_reason = ?", how).
		Where("id = ? AND ended_at IS NULL", id).Exec(ctx)
	if err != nil {
		return fmt.Errorf("end send pause: %w", err)
	}
	return nil
}

// lockAccount serializes pause changes of one account (on Postgres; SQLite
// write transactions are serialized anyway) and says NOT_FOUND for an
// unknown account.
func (p *Policy) lockAccount(ctx context.Context, tx bun.IDB, accountID string) error {
	var id string
	q := tx.NewSelect().Table("accounts").Column("id").Where("id = ?", accountID)
	if p.db.Kind == store.Postgres {
		q = q.For("UPDATE")
	}
	err := q.Scan(ctx, &id)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return notFound(accountID)
	case err != nil:
		return fmt.Errorf("look up account: %w", err)
	}
	return nil
}

// Resume ends accountID's pause, whatever its reason; sending resumes at
// the next Admit. It returns the pause it ended, nil when the account was
// not paused (not an error). NOT_FOUND for an unknown account.
func (p *Policy) Resume(ctx context.Context, accountID string) (*Pause, error) {
	return p.end(ctx, accountID, endResumed, func(*Pause) bool { return true })
}

// Lift ends accountID's pause if it is in force for reason: WhatsApp said
// the restriction behind it is over. Other pauses stay. It returns the
// pause it ended, or nil.
func (p *Policy) Lift(ctx context.Context, accountID string, reason PauseReason) (*Pause, error) {
	return p.end(ctx, accountID, endLifted, func(cur *Pause) bool { return cur.Reason == reason })
}

func (p *Policy) end(ctx context.Context, accountID, how string, match func(*Pause) bool) (*Pause, error) {
	var ended *Pause
	err := p.db.InTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if err := p.lockAccount(ctx, tx, accountID); err != nil {
			return err
		}
		row, err := readPause(ctx, p.db, tx, accountID)
		if err != nil || row == nil {
			return err
		}
		cur, now := row.pause(), dbTime(p.now())
		at := now
		if !cur.ActiveAt(now) {
			how, at = endExpired, cur.Until
		} else if !match(cur) {
			return nil
		} else {
			ended = cur
		}
		if err := endHistory(ctx, tx, row.HistoryID, at, how); err != nil {
			return err
		}
		_, err = tx.NewDelete().Model((*pauseRow)(nil)).Where("account_id = ? AND history_id = ?", accountID, row.HistoryID).Exec(ctx)
		return err
	})
	if err != nil {
		return nil, err
	}
	if ended != nil {
		p.log.Info().Str("account_id", accountID).Str("reason", string(ended.Reason)).Str("how", how).Msg("sending resumed")
		p.publishNow(accountID)
	}
	return ended, nil
}

// ExpirePauses moves out the pauses whose end has passed, closing their
// history rows, and publishes each account's new status; it returns how
// many. The pauses stopped pausing at their end already (Admit compares
// with the clock); this keeps the table to the accounts paused now and
// tells live gauges. The sweep job runs it.
func (p *Policy) ExpirePauses(ctx context.Context) (int, error) {
	var rows []pauseRow
	if err := p.db.NewSelect().Model(&rows).Where("paused_until IS NOT NULL").Scan(ctx); err != nil {
		return 0, fmt.Errorf("read send pauses: %w", err)
	}
	now := p.now()
	n := 0
	for _, r := range rows {
		pz := r.pause()
		if pz.ActiveAt(now) {
			continue
		}
		done := false
		err := p.db.InTx(ctx, func(ctx context.Context, tx bun.Tx) error {
			res, err := tx.NewDelete().Model((*pauseRow)(nil)).Where("account_id = ? AND history_id = ?", r.AccountID, r.HistoryID).Exec(ctx)
			if err != nil {
				return err
			}
			if k, _ := res.RowsAffected(); k == 0 {
				return nil // replaced or resumed meanwhile
			}
			done = true
			return endHistory(ctx, tx, r.HistoryID, pz.Until, endExpired)
		})
		if err != nil {
			return n, fmt.Errorf("expire send pause of %s: %w", r.AccountID, err)
		}
		if done {
			n++
			p.log.Info().Str("account_id", r.AccountID).Str("reason", string(pz.Reason)).Msg("send pause expired; sending resumed")
			p.publishNow(r.AccountID)
		}
	}
	return n, nil
}

// PausedCounts counts the accounts paused now by reason, for the gauge.
func (p *Policy) PausedCounts(ctx context.Context) (map[PauseReason]int, error) {
	var rows []pauseRow
	if err := p.db.NewSelect().Model(&rows).Column("reason", "paused_until").Scan(ctx); err != nil {
		return nil, fmt.Errorf("count send pauses: %w", err)
	}
	now := p.now()
	out := map[PauseReason]int{}
	for _, r := range rows {
		if r.pause().ActiveAt(now) {
			out[PauseReason(r.Reason)]++
		}
	}
	return out, nil
}

// PauseHistory returns accountID's pauses, newest first, at most limit.
func (p *Policy) PauseHistory(ctx context.Context, accountID string, limit int) ([]PastPause, error) {
	var rows []pauseHistoryRow
	err := p.db.NewSelect().Model(&rows).Where("account_id = ?", accountID).Order("id DESC").Limit(int64(limit)).Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("read send pause history: %w", err)
	}
	out := make([]PastPause, len(rows))
	for i, r := range rows {
		out[i] = PastPause{Pause: Pause{Reason: PauseReason(r.Reason), Code: r.Code, Since: r.PausedAt.UTC(), Message: r.Message}}
		if r.PausedUntil != nil {
			out[i].Until = r.PausedUntil.UTC()
		}
		if r.EndedAt != nil {
			out[i].EndedAt = r.EndedAt.UTC()
		}
		if r.EndReason != nil {
			out[i].EndReason = *r.EndReason
		}
	}
	return out, nil
}

// PastPause is a pause from an account's history.
type PastPause struct {
	Pause
	// EndedAt is when it ended; zero while it is the current pause.
	EndedAt time.Time
	// EndReason is RESUMED, EXPIRED, REPLACED (by a longer pause) or LIFTED
	// (WhatsApp said the restriction was over); empty while current.
	EndReason string
}

// FailuresKey is the limiter key that counts an account's failed sends.
func FailuresKey(accountID string) string { return accountID + ":failures" }

// RecordSendResult tells the policy how a send that Admit admitted ended:
// failureCode 0 = sent; otherwise WhatsApp's error code (any non-zero number
// for a failure without one). Error 463 (the reach-out time-lock) pauses
// the account at once (PauseOptions.Refused463); any FailureBurst failures
// within FailureWindow pause it for FailurePause.
func (p *Policy) RecordSendResult(ctx context.Context, accountID string, failureCode int) error {
	o := p.pauses
	switch {
	case failureCode == 0:
		return nil
	case failureCode == 463:
		now := p.now()
		_, err := p.Signal(ctx, accountID, Pause{Reason: PauseSendRefused463, Code: 463, Since: now, Until: now.Add(o.Refused463),
			Message: fmt.Sprintf("WhatsApp refused a send with error 463 (reach-out time-lock: no new chats for a while); sending is paused for %s, until WhatsApp's own end time is known.", o.Refused463)})
		return err
	case o.FailureBurst < 0:
		return nil
	}
	// The failures are a sliding log like the sends: the N-th failure
	// within the window is the one the limiter refuses.
	d, err := p.limiter.Allow(ctx, FailuresKey(accountID), []ratelimit.Limit{{Max: o.FailureBurst - 1, Window: o.FailureWindow}})
	if err != nil || d.Allowed {
		return err
	}
	now := p.now()
	_, err = p.Signal(ctx, accountID, Pause{Reason: PauseFailureBurst, Code: failureCode, Since: now, Until: now.Add(o.FailurePause),
		Message: fmt.Sprintf("%d sends failed within %s (the last with code %d); sending is paused for %s.", o.FailureBurst, o.FailureWindow, failureCode, o.FailurePause)})
	return err
}

// PausedError is the SENDING_PAUSED error for a send refused by pause:
// retryable, with the pause's end (or, open-ended, none) in extensions.
func PausedError(p *Pause) error {
	msg := fmt.Sprintf("sending from this account is paused (%s): %s", p.Reason, p.Message)
	e := apperr.New(apperr.SendingPaused, msg)
	e.Extensions = map[string]any{"pauseReason": string(p.Reason)}
	if p.Code != 0 {
		e.Extensions["pauseCode"] = p.Code
	}
	if p.Until.IsZero() {
		e.Extensions["pausedUntil"] = nil
		e.Suggestion = "The account stays paused until resumeSending; see docs/sending.md for what to do about " + string(p.Reason) + "."
	} else {
		e.Extensions["pausedUntil"] = p.Until.UTC().Format(time.RFC3339)
		if d := time.Until(p.Until); d > 0 {
			e.RetryAfter = d
		}
	}
	return e
}
