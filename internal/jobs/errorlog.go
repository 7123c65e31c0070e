package jobs

import (
	"context"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/rs/zerolog"
)

// errorLogger logs every failed job attempt with its error; River then
// retries it with backoff, or discards it after its last attempt.
type errorLogger struct{ log zerolog.Logger }

func (h *errorLogger) HandleError(ctx context.Context, job *rivertype.JobRow, err error) *river.ErrorHandlerResult {
	h.event(job).Err(err).Msg(h.message(job))
	return nil
}

func (h *errorLogger) HandlePanic(ctx context.Context, job *rivertype.JobRow, panicVal any, trace string) *river.ErrorHandlerResult {
	h.event(job).Interface("panic", panicVal).Str("stack", trace).Msg(h.message(job))
	return nil
}

func (h *errorLogger) event(job *rivertype.JobRow) *zerolog.Event {
	ev := h.log.Warn()
	if job.Attempt >= job.MaxAttempts {
		ev = h.log.Error()
	}
	return ev.Int64("job_id", job.ID).Str("job_kind", job.Kind).Int("attempt", job.Attempt).Int("max_attempts", job.MaxAttempts)
}

func (h *errorLogger) message(job *rivertype.JobRow) string {
	if job.Attempt >= job.MaxAttempts {
		return "job failed on its last attempt and is discarded; retry it with the retryJob mutation once the cause is fixed"
	}
	return "job attempt failed; River retries it with backoff"
}
