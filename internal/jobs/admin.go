package jobs

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"wagraph/internal/apperr"
	"wagraph/internal/paging"
)

// Page sizes for List.
const (
	DefaultPageSize = paging.Default
	MaxPageSize     = paging.Max
)

// Job is one job as operators see it.
type Job struct {
	ID          int64
	Kind        string
	State       rivertype.JobState
	Queue       string
	Attempt     int
	MaxAttempts int
	// Errors are the failed attempts' errors, oldest first.
	Errors      []AttemptError
	CreatedAt   time.Time
	ScheduledAt time.Time
	AttemptedAt *time.Time
	FinalizedAt *time.Time
}

// AttemptError is the error of one failed attempt.
type AttemptError struct {
	Attempt int
	At      time.Time
	Error   string
}

// Filter narrows List; empty fields match everything.
type Filter struct {
	Kind  string
	State string // a River job state: available, running, retryable, ...
}

// ListInput asks for one page of jobs, newest first.
type ListInput struct {
	Filter Filter
	First  *int
	After  string
}

// Page is one page of jobs.
type Page struct {
	Jobs        []Job
	HasNextPage bool
	// TotalCount is how many jobs match the filter in all.
	TotalCount int
}

// List returns a page of jobs matching in.Filter, newest first.
func (s *Service) List(ctx context.Context, in ListInput) (*Page, error) {
	first, err := paging.Size(in.First)
	if err != nil {
		return nil, err
	}
	params := river.NewJobListParams().OrderBy(river.JobListOrderByID, river.SortOrderDesc).First(first + 1)
	count := s.db.NewSelect().Table("river_job")
	if in.Filter.Kind != "" {
		params = params.Kinds(in.Filter.Kind)
		count = count.Where("kind = ?", in.Filter.Kind)
	}
	if in.Filter.State != "" {
		state, err := ParseState(in.Filter.State)
		if err != nil {
			return nil, err
		}
		params = params.States(state)
		count = count.Where("state = ?", string(state))
	}
	if in.After != "" {
		id, err := parseCursor(in.After)
		if err != nil {
			return nil, err
		}
		params = params.Where("id < @after_id", river.NamedArgs{"after_id": id})
	}
	total, err := count.Count(ctx)
	if err != nil {
		return nil, fmt.Errorf("jobs: count jobs: %w", err)
	}
	page := &Page{TotalCount: int(total), Jobs: []Job{}}
	if first == 0 {
		page.HasNextPage = total > 0 && in.After == ""
		return page, nil
	}
	res, err := s.client.JobList(ctx, params)
	if err != nil {
		return nil, fmt.Errorf("jobs: list jobs: %w", err)
	}
	rows := res.Jobs
	if len(rows) > first {
		rows, page.HasNextPage = rows[:first], true
	}
	for _, r := range rows {
		page.Jobs = append(page.Jobs, jobOf(r))
	}
	return page, nil
}

// Retry makes a job available to run again at once, whatever its state
// (a running job is left alone and returned as is).
func (s *Service) Retry(ctx context.Context, id int64) (Job, error) {
	row, err := s.client.JobRetry(ctx, id)
	if err != nil {
		return Job{}, s.jobError(err, id)
	}
	s.log.Info().Int64("job_id", id).Str("job_kind", row.Kind).Msg("job retried by an operator")
	return jobOf(row), nil
}

// Cancel cancels a job that has not finished. A running job's context is
// cancelled and the job is not retried.
func (s *Service) Cancel(ctx context.Context, id int64) (Job, error) {
	row, err := s.client.JobCancel(ctx, id)
	if err != nil {
		return Job{}, s.jobError(err, id)
	}
	s.log.Info().Int64("job_id", id).Str("job_kind", row.Kind).Msg("job cancelled by an operator")
	return jobOf(row), nil
}

func (s *Service) jobError(err error, id int64) error {
	if errors.Is(err, rivertype.ErrNotFound) {
		return apperr.Newf(apperr.NotFound, "no job with id %d", id).
			WithSuggestion("List jobs with the jobs query to find the one you meant; finished jobs are deleted after JOB_RETENTION.")
	}
	return fmt.Errorf("jobs: job %d: %w", id, err)
}

// Count is how many jobs of one kind are in one state.
type Count struct {
	Kind  string
	State string
	N     int
}

// Counts returns how many jobs there are per kind and state, for /metrics.
func (s *Service) Counts(ctx context.Context) ([]Count, error) {
	var out []Count
	err := s.db.NewSelect().Table("river_job").
		ColumnExpr("kind, state, count(*) AS n").GroupExpr("kind, state").
		OrderExpr("kind, state").Scan(ctx, &out)
	if err != nil {
		return nil, fmt.Errorf("jobs: count jobs by kind and state: %w", err)
	}
	return out, nil
}

// States lists River's job states, lower case, as stored.
func States() []string {
	out := make([]string, 0, len(rivertype.JobStates()))
	for _, s := range rivertype.JobStates() {
		out = append(out, string(s))
	}
	return out
}

// ParseState checks a job state name (case-insensitive).
func ParseState(s string) (rivertype.JobState, error) {
	state := rivertype.JobState(strings.ToLower(s))
	if !slices.Contains(rivertype.JobStates(), state) {
		names := make([]string, 0, len(rivertype.JobStates()))
		for _, st := range rivertype.JobStates() {
			names = append(names, strings.ToUpper(string(st)))
		}
		return "", apperr.Invalid("state", fmt.Sprintf("%q is not a job state", s), "Use one of "+strings.Join(names, ", ")+".")
	}
	return state, nil
}

// ParseID checks a job id given by a client.
func ParseID(s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, apperr.Invalid("id", fmt.Sprintf("%q is not a job id", s), "Pass the id of a job from the jobs query.")
	}
	return id, nil
}

// Cursor is the opaque cursor of a job in List's order.
func Cursor(id int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte("job:" + strconv.FormatInt(id, 10)))
}

func parseCursor(c string) (int64, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err == nil {
		if rest, ok := strings.CutPrefix(string(b), "job:"); ok {
			if id, err := strconv.ParseInt(rest, 10, 64); err == nil && id > 0 {
				return id, nil
			}
		}
	}
	return 0, apperr.Invalid("after", "after is not a cursor from the jobs query",
		"Pass a cursor from a previous page's pageInfo.endCursor, or leave after out to start at the newest job.")
}

func jobOf(r *rivertype.JobRow) Job {
	j := Job{
		ID: r.ID, Kind: r.Kind, State: r.State, Queue: r.Queue,
		Attempt: r.Attempt, MaxAttempts: r.MaxAttempts,
		CreatedAt: r.CreatedAt.UTC(), ScheduledAt: r.ScheduledAt.UTC(),
		AttemptedAt: utcPtr(r.AttemptedAt), FinalizedAt: utcPtr(r.FinalizedAt),
	}
	for _, e := range r.Errors {
		j.Errors = append(j.Errors, AttemptError{Attempt: e.Attempt, At: e.At.UTC(), Error: e.Error})
	}
	return j
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}
