package graph

import (
	"time"

	"wagraph/graph/model"
	"wagraph/internal/ratelimit"
	"wagraph/internal/sending"
)

// maxWindowSeconds bounds windowSeconds before it becomes a Duration, so a
// huge value is refused by validation instead of overflowing.
const maxWindowSeconds = int(ratelimit.MaxWindow/time.Second) + 1

func rateLimitsIn(in []*model.RateLimitInput) []ratelimit.Limit {
	out := make([]ratelimit.Limit, len(in))
	for i, l := range in {
		out[i] = ratelimit.Limit{Max: l.Max, Window: time.Duration(min(l.WindowSeconds, maxWindowSeconds)) * time.Second}
	}
	return out
}

func rateLimitModel(l ratelimit.Limit) *model.RateLimit {
	return &model.RateLimit{Max: l.Max, WindowSeconds: int(l.Window / time.Second)}
}

func accountRateLimitsModel(accountID string, a sending.AccountLimits) *model.AccountRateLimits {
	m := &model.AccountRateLimits{AccountID: accountID, NewChatsPerDay: a.NewChatsPerDay, Custom: a.Custom, UpdatedAt: optTime(a.UpdatedAt)}
	m.Limits = make([]*model.RateLimit, len(a.Limits))
	for i, l := range a.Limits {
		m.Limits[i] = rateLimitModel(l)
	}
	return m
}

func rateLimitWindowModel(w ratelimit.WindowStatus) *model.RateLimitWindow {
	return &model.RateLimitWindow{
		Max: w.Limit.Max, WindowSeconds: int(w.Limit.Window / time.Second),
		Used: w.Used, Remaining: w.Remaining,
		NextFreeAt: optTime(w.NextFree), ResetAt: optTime(w.Reset),
	}
}

func rateLimitStatusModel(accountID string, st *sending.Status) *model.RateLimitStatus {
	m := &model.RateLimitStatus{
		AccountID:  accountID,
		NewChats:   rateLimitWindowModel(st.NewChats),
		Configured: accountRateLimitsModel(accountID, st.Configured),
		LinkedAt:   optTime(st.LinkedAt),
		WarmupDay:  st.WarmupDay,
	}
	if st.WarmupCap > 0 {
		m.WarmupCap = &st.WarmupCap
	}
	m.Paused, m.Pause = st.Pause != nil, sendPauseModel(st.Pause)
	m.Windows = make([]*model.RateLimitWindow, len(st.Windows))
	for i, w := range st.Windows {
		m.Windows[i] = rateLimitWindowModel(w)
	}
	return m
}

func sendPauseModel(p *sending.Pause) *model.SendPause {
	if p == nil {
		return nil
	}
	m := &model.SendPause{Reason: model.SendPauseReason(p.Reason), Since: p.Since, Until: optTime(p.Until), Message: p.Message}
	if p.Code != 0 {
		m.Code = &p.Code
	}
	return m
}

func rateLimitEventModel(ev sending.RateLimitEvent, _ time.Time) *model.RateLimitStatus {
	return rateLimitStatusModel(ev.AccountID, ev.Status)
}

func derefTime(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}
