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
}

// Admit asks whether accountID may send one message now and, when it may,
// counts it: against the account's windows (warm-up applied) and, for a
// recipient who never wrote to the account (newChat), against the
// new-chats limit too. The new-chats limit is asked first; when it admits
// and the account's windows then refuse, the new-chat slot stays used, so
// the error is on the side of sending less, never more.
func (p *Policy) Admit(ctx context.Context, accountID string, newChat bool) (Admission, error) {
	e, err := p.Limits(ctx, accountID)
	if err != nil {
		return Admission{}, err
	}
	if newChat {
		d, err := p.limiter.Allow(ctx, NewChatsKey(accountID), []ratelimit.Limit{e.NewChats})
		if err != nil {
			return Admission{}, err
		}
		if !d.Allowed {
			return refused(d, true), nil
		}
	}
	d, err := p.limiter.Allow(ctx, accountID, e.Limits)
	if err != nil {
		return Admission{}, err
	}
	if !d.Allowed {
		return refused(d, false), nil
	}
	return Admission{Allowed: true, At: d.At}, nil
}

func refused(d ratelimit.Decision, newChats bool) Admission {
	return Admission{At: d.At, RetryAt: d.At.Add(d.RetryAfter), Refused: d.Refused, NewChats: newChats}
}
