package sending

import (
	"context"
	"time"

	"wagraph/internal/ratelimit"
)

// Admission is the answer to Admit: may the account send one message now,
// and if not, until when it must wait and why.
type Admission struct {
	// Allowed reports that the send was admitted and counted in every window.
	Allowed bool
	// At is the time of the decision on the limiter's clock.
	At time.Time
	// RetryAt is when to ask again; zero when Allowed.
	RetryAt time.Time
	// Refused is the window that refused; zero when Allowed.
	Refused ratelimit.Limit
	// NewChats reports that the new-chats limit refused (Refused is it).
	NewChats bool
	// Pause is the pause that refused (nothing was counted); RetryAt is
	// its end or, for an open-ended pause, when to look again
	// (PauseOptions.Recheck). PausedError(Pause) is the error to show.
	Pause *Pause
}

// Admit asks whether accountID may send one message now and, when it may,
// counts it. A paused account is refused first, with nothing counted
// (Admission.Pause; RetryAt is always set when refused). Otherwise it
// counts: against the account's windows (warm-up applied) and, for a
// recipient who never wrote to the account (newChat), against the
// new-chats limit too. The two are separate limiter keys, so a new chat
// first looks whether a window of the account is full (then it is refused
// without touching the new-chats limit: a queued new-chat message retried
// every minute must not burn the day's new chats), then asks the new-chats
// limit, then the account's windows. Only when another send fills a window
// between the look and the ask does a new-chat slot stay used for a send
// that did not happen: the error is on the side of sending less.
func (p *Policy) Admit(ctx context.Context, accountID string, newChat bool) (Admission, error) {
	pz, err := p.CurrentPause(ctx, accountID)
	if err != nil {
		return Admission{}, err
	}
	if pz != nil {
		now := p.now()
		retry := pz.Until
		if pz.OpenEnded() {
			retry = now.Add(p.pauses.Recheck)
		}
		p.metrics.Decision(false, WindowPaused)
		return Admission{At: now, RetryAt: retry, Pause: pz}, nil
	}
	e, err := p.Limits(ctx, accountID)
	if err != nil {
		return Admission{}, err
	}
	if newChat {
		if a, full, err := p.fullWindow(ctx, accountID, e.Limits); err != nil || full {
			return a, err
		}
		d, err := p.limiter.Allow(ctx, NewChatsKey(accountID), []ratelimit.Limit{e.NewChats})
		if err != nil {
			return Admission{}, err
		}
		if !d.Allowed {
			p.metrics.Decision(false, WindowNewChats)
			return refused(d, true), nil
		}
	}
	d, err := p.limiter.Allow(ctx, accountID, e.Limits)
	if err != nil {
		return Admission{}, err
	}
	if !d.Allowed {
		p.metrics.Decision(false, WindowKind(d.Refused.Window))
		if newChat { // the new-chat slot stays used
			p.pub.changed(accountID)
		}
		return refused(d, false), nil
	}
	p.metrics.Decision(true, "")
	p.pub.changed(accountID)
	return Admission{Allowed: true, At: d.At}, nil
}

// fullWindow reports whether a window of the account has no room now and,
// when one has, the refusal Allow would give (the full window that frees
// last), recording nothing.
func (p *Policy) fullWindow(ctx context.Context, accountID string, limits []ratelimit.Limit) (Admission, bool, error) {
	ws, err := p.limiter.Status(ctx, accountID, limits)
	if err != nil {
		return Admission{}, false, err
	}
	var a Admission
	for _, w := range ws {
		if w.Remaining == 0 && w.NextFree.After(a.RetryAt) {
			a = Admission{At: p.now(), RetryAt: w.NextFree, Refused: w.Limit}
		}
	}
	if a.RetryAt.IsZero() {
		return Admission{}, false, nil
	}
	p.metrics.Decision(false, WindowKind(a.Refused.Window))
	return a, true, nil
}

func refused(d ratelimit.Decision, newChats bool) Admission {
	return Admission{At: d.At, RetryAt: d.At.Add(d.RetryAfter), Refused: d.Refused, NewChats: newChats}
}
