package whatsapp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/types/events"

	"wagraph/internal/sending"
)

// SendingPauses is where a session's ban signals pause the account's
// sending (sending.Policy implements it). The signals: a temporary ban
// (events.TemporaryBan, also a lifecycle event) and the reach-out
// time-lock, which this whatsmeow version does not raise as an event (it
// drops WhatsApp's NotificationUserReachoutTimelockUpdate notification
// unparsed), so the session asks WhatsApp for it: at every login and after
// a send refused with 463.
type SendingPauses interface {
	Signal(ctx context.Context, accountID string, p sending.Pause) (*sending.Pause, error)
	Lift(ctx context.Context, accountID string, reason sending.PauseReason) (*sending.Pause, error)
}

// reachoutTimelockQueryID is WhatsApp Web's FetchReachoutTimelock mex query.
const reachoutTimelockQueryID = "23983697327930364"

// reachoutRecheckAfter463 debounces the time-lock query after refused
// sends: a batch refused with 463 asks WhatsApp once, not once per message.
const reachoutRecheckAfter463 = time.Minute

// pauseForTemporaryBan pauses the account's sending until the ban ends
// (the lifecycle moves the account to BANNED for the same event).
func (s *Session) pauseForTemporaryBan(e *events.TemporaryBan) {
	p := sending.Pause{Reason: sending.PauseTemporaryBan, Code: int(e.Code), Since: time.Now()}
	p.Message = fmt.Sprintf("WhatsApp temporarily banned this number (code %d: %s)", int(e.Code), banText(e.Code))
	if e.Expire > 0 {
		p.Until = p.Since.Add(e.Expire)
		p.Message += " until " + p.Until.UTC().Format(time.RFC3339) + "; sending resumes by itself then."
	} else {
		p.Message += "; WhatsApp did not say for how long."
	}
	s.signal(p)
}

// checkReachoutTimelock asks WhatsApp, in the background, whether the
// account is under a reach-out time-lock: active pauses sending until its
// end (REACHOUT_TIMELOCK); inactive lifts a REACHOUT_TIMELOCK pause.
func (s *Session) checkReachoutTimelock() {
	if s.m.opts.Pauses == nil {
		return
	}
	s.m.spawn(func() {
		ctx, cancel := context.WithTimeout(s.connCtx, 30*time.Second)
		defer cancel()
		data, err := s.cli.DangerousInternals().SendMexIQ(ctx, reachoutTimelockQueryID, map[string]any{})
		if err != nil {
			s.log.Debug().Err(err).Msg("reach-out time-lock query failed")
			return
		}
		lock, err := parseReachoutTimelock(data)
		if err != nil {
			s.log.Warn().Err(err).Msg("unreadable reach-out time-lock answer")
			return
		}
		if !lock.Active {
			ctx, cancel := context.WithTimeout(s.m.ctx, 30*time.Second)
			defer cancel()
			if _, err := s.m.opts.Pauses.Lift(ctx, s.req.AccountID, sending.PauseReachoutTimelock); err != nil {
				s.log.Warn().Err(err).Msg("could not lift the reach-out time-lock pause")
			}
			return
		}
		p := sending.Pause{Reason: sending.PauseReachoutTimelock, Code: 463, Since: time.Now(), Until: lock.Ends}
		p.Message = fmt.Sprintf("WhatsApp put a reach-out time-lock on this number (%s): it cannot start new chats", lock.Enforcement)
		if !lock.Ends.IsZero() {
			p.Message += " until " + lock.Ends.UTC().Format(time.RFC3339) + "; sending resumes by itself then."
		} else {
			p.Message += "; WhatsApp did not say until when."
		}
		s.signal(p)
	})
}

// afterSendRefused is what a send does with whatsmeow's error: for error
// 463 (the reach-out time-lock) it asks WhatsApp for the lock's end, at
// most once a minute. It returns WhatsApp's error code, 0 when err carries
// none, for sending.Policy.RecordSendResult.
func (s *Session) afterSendRefused(err error) int {
	code := sendRefusalCode(err)
	if code != 463 {
		return code
	}
	s.mu.Lock()
	due := time.Since(s.reachoutCheckedAt) >= reachoutRecheckAfter463
	if due {
		s.reachoutCheckedAt = time.Now()
	}
	s.mu.Unlock()
	if due {
		s.checkReachoutTimelock()
	}
	return code
}

// sendRefusalCode reads WhatsApp's error code from whatsmeow's send error
// ("server returned error 463"); 0 for any other error.
func sendRefusalCode(err error) int {
	if err == nil || !errors.Is(err, whatsmeow.ErrServerReturnedError) {
		return 0
	}
	msg := err.Error()
	i := strings.LastIndex(msg, whatsmeow.ErrServerReturnedError.Error())
	if i < 0 {
		return 0
	}
	rest := strings.TrimSpace(msg[i+len(whatsmeow.ErrServerReturnedError.Error()):])
	if j := strings.IndexFunc(rest, func(r rune) bool { return r < '0' || r > '9' }); j >= 0 {
		rest = rest[:j]
	}
	code, err := strconv.Atoi(rest)
	if err != nil || code <= 0 || code > 999 {
		return 0
	}
	return code
}

// signal hands a pause to the port in the background, retrying a failed
// write a few times; it outlives the session (a ban ends it).
func (s *Session) signal(p sending.Pause) {
	pauses := s.m.opts.Pauses
	if pauses == nil {
		return
	}
	s.m.spawn(func() {
		for attempt, wait := 1, time.Second; ; attempt, wait = attempt+1, wait*2 {
			ctx, cancel := context.WithTimeout(s.m.ctx, 30*time.Second)
			_, err := pauses.Signal(ctx, s.req.AccountID, p)
			cancel()
			if err == nil {
				return
			}
			if attempt == 3 {
				s.log.Error().Err(err).Str("reason", string(p.Reason)).Msg("could not pause sending for a ban signal")
				return
			}
			select {
			case <-s.m.ctx.Done():
				return
			case <-time.After(wait):
			}
		}
	})
}

// reachoutTimelock is WhatsApp's answer about an account's time-lock.
type reachoutTimelock struct {
	Active      bool
	Ends        time.Time // zero: not said
	Enforcement string
}

// parseReachoutTimelock reads the FetchReachoutTimelock answer:
// {"xwa2_fetch_account_reachout_timelock": {"is_active": true,
// "time_enforcement_ends": "1798675200", "enforcement_type": "DEFAULT"}};
// the end is Unix seconds as a string or a number, "0" or absent for none.
func parseReachoutTimelock(data []byte) (reachoutTimelock, error) {
	var resp struct {
		Lock *struct {
			IsActive    bool            `json:"is_active"`
			Ends        json.RawMessage `json:"time_enforcement_ends"`
			Enforcement string          `json:"enforcement_type"`
		} `json:"xwa2_fetch_account_reachout_timelock"`
	}
	if err := json.Unmarshal(data, &resp); err != nil {
		return reachoutTimelock{}, fmt.Errorf("reach-out time-lock: %w", err)
	}
	if resp.Lock == nil {
		return reachoutTimelock{}, errors.New("reach-out time-lock: no xwa2_fetch_account_reachout_timelock in the answer")
	}
	out := reachoutTimelock{Active: resp.Lock.IsActive, Enforcement: resp.Lock.Enforcement}
	if out.Enforcement == "" {
		out.Enforcement = "DEFAULT"
	}
	if len(out.Enforcement) > 64 {
		out.Enforcement = out.Enforcement[:64]
	}
	raw := strings.Trim(string(resp.Lock.Ends), `"`)
	if raw == "" || raw == "null" || raw == "0" {
		return out, nil
	}
	secs, err := strconv.ParseInt(raw, 10, 64)
	// Beyond year 9999 (or before 1970) is no end time anyone can use.
	if err != nil || secs < 0 || secs > 253402300799 {
		return reachoutTimelock{}, fmt.Errorf("reach-out time-lock: end %q is not Unix seconds", raw)
	}
	out.Ends = time.Unix(secs, 0).UTC()
	return out, nil
}
