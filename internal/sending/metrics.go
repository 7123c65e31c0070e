package sending

import "time"

// Window kinds, the bounded label of decision metrics: which limit refused
// a send.
const (
	WindowMinute   = "minute"
	WindowHour     = "hour"
	WindowDay      = "day"
	WindowOther    = "other"
	WindowNewChats = "new_chats"
	WindowPaused   = "paused"
)

// WindowKind names a limit's window for metrics: minute, hour, day, or
// other for any other length (set per account, so not a label value).
func WindowKind(w time.Duration) string {
	switch w {
	case time.Minute:
		return WindowMinute
	case time.Hour:
		return WindowHour
	case Day:
		return WindowDay
	}
	return WindowOther
}

// Metrics counts what the policy decides; internal/observe implements it.
type Metrics interface {
	// Decision counts one Admit: admitted, or refused by the window kind
	// (WindowMinute … WindowPaused).
	Decision(admitted bool, window string)
	// Paused counts a pause that took effect.
	Paused(reason PauseReason)
}

type noMetrics struct{}

func (noMetrics) Decision(bool, string) {}
func (noMetrics) Paused(PauseReason)    {}
