package message

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/riverqueue/river"

	"wagraph/internal/apperr"
	"wagraph/internal/jobs"
)

// SendArgs is the job that sends one message.
type SendArgs struct {
	MessageID string `json:"message_id"`
}

// Kind implements river.JobArgs.
func (SendArgs) Kind() string { return "message_send" }

// InsertOpts: a send job is retried on errors (the database or the limiter
// away) with River's backoff; waiting for the limits is a snooze, which
// River does not count as an attempt.
func (SendArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{MaxAttempts: 20} }

type sendWorker struct {
	river.WorkerDefaults[SendArgs]
	s *Service
}

// Work sends the message; see Service.work.
func (w *sendWorker) Work(ctx context.Context, job *river.Job[SendArgs]) error {
	return w.s.work(ctx, job.Args.MessageID)
}

// RegisterJobs registers the send worker and the send lanes.
func (s *Service) RegisterJobs(r *jobs.Registry) {
	jobs.AddWorker(r, &sendWorker{s: s})
	for i := range Lanes {
		r.AddQueue(laneName(i), s.opts.LaneWorkers)
	}
}

// Codes WhatsApp refuses a message with that hold it rather than fail it:
// the reach-out time-lock on new chats and rate-overlimit. The account's
// sending is paused on them (internal/sending); the message waits and goes
// once the pause is over.
var holdCodes = map[int]bool{463: true, 429: true}

// work sends one message, once:
//
//  1. A message already SENT, FAILED or CANCELED is left alone, so a job run
//     twice sends nothing twice.
//  2. A QUEUED message: is the recipient on WhatsApp (cached, paced)? Is it
//     a new chat? The account's limits (and pauses) are asked; when they
//     refuse, the job snoozes until they allow it (plus the batch's jitter)
//     and the message shows why it waits.
//  3. It is marked SENDING with the WhatsApp message id it will be sent
//     under, then handed to WhatsApp; WhatsApp's answer (SENT with its
//     time, or FAILED with a code) is written before the job completes.
//
// The one at-least-once window: a process that dies after WhatsApp
// accepted the message and before SENT is written leaves it SENDING; the
// job is rescued and sends it again under the same WhatsApp message id
// (recipients' phones show a message id once), without asking the limits
// again. Sending has no other path to a second send.
func (s *Service) work(ctx context.Context, id string) error {
	m, err := getMessage(ctx, s.DB, id)
	if apperr.CodeOf(err) == apperr.NotFound {
		return nil // deleted with its account
	}
	if err != nil {
		return err
	}
	switch m.Status {
	case Sent, Failed, Canceled:
		return nil
	case Queued:
		if snooze, done, err := s.admit(ctx, m); err != nil || done {
			return err
		} else if snooze > 0 {
			return river.JobSnooze(snooze)
		}
	case Sending:
		if m.Attempts >= s.opts.MaxAttempts {
			return s.fail(ctx, m, apperr.SendFailed, fmt.Sprintf("WhatsApp did not confirm the message after %d attempts", m.Attempts),
				"Check the account's connection; send the message again if the recipient did not get it.")
		}
		if err := s.resume(ctx, m); err != nil {
			return err
		}
	}
	return s.deliver(ctx, m)
}

// admit takes a queued message up to SENDING: it returns a snooze when
// the message must wait, done when it was finished (failed, or canceled
// meanwhile).
func (s *Service) admit(ctx context.Context, m *messageRow) (snooze time.Duration, done bool, err error) {
	on, wait, err := s.onWhatsApp(ctx, m)
	if err != nil {
		if apperr.CodeOf(err) == apperr.AccountNotActive {
			return s.notActive(ctx, m)
		}
		return 0, false, err
	}
	if wait > 0 {
		return wait + s.opts.Jitter(time.Second), false, nil
	}
	if !on {
		return 0, true, s.fail(ctx, m, apperr.RecipientNotOnWhatsApp, fmt.Sprintf("%s is not on WhatsApp", m.Recipient), "")
	}
	newChat, err := s.isNewChat(ctx, m.AccountID, m.Recipient)
	if err != nil {
		return 0, false, err
	}
	adm, err := s.Admitter.Admit(ctx, m.AccountID, newChat)
	if err != nil {
		return 0, false, err
	}
	now := s.opts.Now()
	if !adm.Allowed {
		// Not every waiting message may wake at RetryAt: one would go and
		// the rest be refused again, over and over. Each waits a random
		// share of the time the account's backlog takes at the refusing
		// limit's pace (and the batch's jitter on top).
		spread, err := s.backlogSpread(ctx, m.AccountID, adm.Refused)
		if err != nil {
			return 0, false, err
		}
		until := adm.RetryAt.Add(s.opts.Jitter(spread + s.batchJitter(ctx, m)))
		code := waitCode(adm)
		if err := s.hold(ctx, m.ID, code, until); err != nil {
			return 0, false, err
		}
		return max(until.Sub(now), time.Millisecond), false, nil
	}
	if m.WAMessageID == "" {
		// A message put back in the queue keeps its id: an earlier try may
		// have reached WhatsApp, and a second one must not look new.
		m.WAMessageID = newWAMessageID()
	}
	ok, err := s.markSending(ctx, m)
	if err != nil || !ok {
		return 0, !ok, err // canceled meanwhile: nothing to send
	}
	return 0, false, nil
}

// notActive makes a message wait for its account to be live again, or
// fails it once it has waited NotActiveGiveUp.
func (s *Service) notActive(ctx context.Context, m *messageRow) (time.Duration, bool, error) {
	if s.opts.Now().Sub(m.CreatedAt) >= s.opts.NotActiveGiveUp {
		return 0, true, s.fail(ctx, m, apperr.AccountNotActive,
			fmt.Sprintf("the account had no live WhatsApp session for %s after the message was queued", s.opts.NotActiveGiveUp), "")
	}
	until := s.opts.Now().Add(s.opts.NotActiveRetry)
	if err := s.hold(ctx, m.ID, string(apperr.AccountNotActive), until); err != nil {
		return 0, false, err
	}
	return s.opts.NotActiveRetry, false, nil
}

// deliver hands a SENDING message to WhatsApp and records the answer.
func (s *Service) deliver(ctx context.Context, m *messageRow) error {
	// One send per account at a time: whatsmeow sends one message per
	// client at a time anyway, and sends that wait for each other inside it
	// (fetching new recipients' devices and keys side by side) are slower
	// in all than one after the other.
	done, ok := s.sends.turn(ctx, m.AccountID)
	if !ok {
		return ctx.Err()
	}
	res, err := s.Sender.Send(ctx, m.AccountID, m.Recipient, m.Body, m.WAMessageID)
	done()
	if err == nil {
		if err := s.markSent(ctx, m, res.At); err != nil {
			return err
		}
		s.recordOutcome(ctx, m.AccountID, 0)
		return nil
	}
	if apperr.CodeOf(err) == apperr.AccountNotActive {
		// Nothing reached WhatsApp: back to the queue until the account is
		// live (with the same WhatsApp id, which was never used).
		until := s.opts.Now().Add(s.opts.NotActiveRetry)
		if err := s.requeue(ctx, m, string(apperr.AccountNotActive), until); err != nil {
			return err
		}
		return river.JobSnooze(s.opts.NotActiveRetry)
	}
	var sc serverCoder
	if errors.As(err, &sc) {
		code := sc.ServerCode()
		s.recordOutcome(ctx, m.AccountID, code)
		if holdCodes[code] {
			// WhatsApp refused it for now; the account's pause holds the
			// queue, and this message waits with it.
			until := s.opts.Now().Add(s.opts.RefusedRetry)
			if err := s.requeue(ctx, m, "SENDING_PAUSED", until); err != nil {
				return err
			}
			return river.JobSnooze(s.opts.RefusedRetry)
		}
		return s.fail(ctx, m, apperr.SendFailed, "WhatsApp refused the message with error "+strconv.Itoa(code), suggestionFor(code))
	}
	// No answer (timeout, connection lost): WhatsApp may have the message.
	// It stays SENDING and the job's retry sends it again under the same id.
	s.recordOutcome(ctx, m.AccountID, -1)
	return fmt.Errorf("message %s: send: %w", m.ID, err)
}

func (s *Service) recordOutcome(ctx context.Context, accountID string, code int) {
	if s.Outcomes == nil {
		return
	}
	if err := s.Outcomes.RecordSendResult(ctx, accountID, code); err != nil {
		s.log.Warn().Err(err).Str("account_id", accountID).Int("code", code).Msg("could not record a send result")
	}
}

// suggestionFor says what to do about a WhatsApp error code.
func suggestionFor(code int) string {
	switch code {
	case 479, 421:
		return "WhatsApp refused the message's content or the chat; check the recipient and the text."
	case 403, 401:
		return "WhatsApp does not allow this account to message the recipient; the recipient may have blocked it."
	}
	return apperr.Suggestion(apperr.SendFailed)
}
