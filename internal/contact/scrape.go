package contact

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/riverqueue/river"
	"github.com/uptrace/bun"

	"wagraph/internal/apperr"
	"wagraph/internal/bus"
	"wagraph/internal/live"
	"wagraph/internal/paging"
)

// ScrapeState is where a scrape job is.
type ScrapeState string

const (
	// ScrapeQueued: enqueued, not started yet.
	ScrapeQueued ScrapeState = "QUEUED"
	// ScrapeRunning: reading groups and writing contacts.
	ScrapeRunning ScrapeState = "RUNNING"
	// ScrapeWaiting: WhatsApp answered rate-overlimit; the job resumes at
	// ResumeAt by itself.
	ScrapeWaiting ScrapeState = "WAITING"
	// ScrapeDone, ScrapeFailed and ScrapeCanceled are final.
	ScrapeDone     ScrapeState = "DONE"
	ScrapeFailed   ScrapeState = "FAILED"
	ScrapeCanceled ScrapeState = "CANCELED"
)

// ScrapeStates lists every state.
var ScrapeStates = []ScrapeState{ScrapeQueued, ScrapeRunning, ScrapeWaiting, ScrapeDone, ScrapeFailed, ScrapeCanceled}

// Final reports whether the job is over.
func (s ScrapeState) Final() bool {
	return s == ScrapeDone || s == ScrapeFailed || s == ScrapeCanceled
}

// ScrapeJob is one scrape of an account's groups and its progress.
type ScrapeJob struct {
	// ID is the River job's id.
	ID         int64
	AccountID  string
	AllGroups  bool
	PersonaIDs []string
	State      ScrapeState
	// GroupsTotal is how many groups the job scrapes (for AllGroups, known
	// once it has read the account's groups).
	GroupsTotal int
	GroupsDone  int
	// MembersSeen counts group members written; a person in two groups
	// counts twice.
	MembersSeen     int
	ContactsCreated int
	ContactsUpdated int
	// ContactsMerged counts LID-only contacts merged into their number's.
	ContactsMerged int
	// MembersWithoutPhone counts members known by LID only.
	MembersWithoutPhone int
	// Errors counts groups and members that could not be scraped (the job
	// goes on); LastError is the latest one.
	Errors    int
	LastError string
	// ResumeAt is when a WAITING job resumes.
	ResumeAt   *time.Time
	Version    int64
	CreatedAt  time.Time
	StartedAt  *time.Time
	FinishedAt *time.Time
	UpdatedAt  time.Time
}

// scrapeRow is a job as stored in scrape_jobs.
type scrapeRow struct {
	bun.BaseModel `bun:"table:scrape_jobs,alias:s"`

	ID           int64      `bun:"id,pk"`
	AccountID    string     `bun:"account_id,notnull"`
	AllGroups    bool       `bun:"all_groups,notnull"`
	TargetsReady bool       `bun:"targets_ready,notnull"`
	PersonaIDs   string     `bun:"persona_ids,notnull"`
	State        string     `bun:"state,notnull"`
	GroupsTotal  int        `bun:"groups_total,notnull"`
	GroupsDone   int        `bun:"groups_done,notnull"`
	MembersSeen  int        `bun:"members_seen,notnull"`
	Created      int        `bun:"contacts_created,notnull"`
	Updated      int        `bun:"contacts_updated,notnull"`
	Merged       int        `bun:"contacts_merged,notnull"`
	WithoutPhone int        `bun:"members_without_phone,notnull"`
	Errors       int        `bun:"errors,notnull"`
	LastError    string     `bun:"last_error,notnull"`
	RateLimited  int        `bun:"rate_limited,notnull"`
	ResumeAt     *time.Time `bun:"resume_at"`
	Version      int64      `bun:"version,notnull"`
	CreatedAt    time.Time  `bun:"created_at,notnull"`
	StartedAt    *time.Time `bun:"started_at"`
	FinishedAt   *time.Time `bun:"finished_at"`
	UpdatedAt    time.Time  `bun:"updated_at,notnull"`
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func (r *scrapeRow) personas() []string {
	var ids []string
	_ = json.Unmarshal([]byte(r.PersonaIDs), &ids)
	return ids
}

func (r *scrapeRow) toJob() *ScrapeJob {
	return &ScrapeJob{
		ID: r.ID, AccountID: r.AccountID, AllGroups: r.AllGroups, PersonaIDs: r.personas(), State: ScrapeState(r.State),
		GroupsTotal: r.GroupsTotal, GroupsDone: r.GroupsDone, MembersSeen: r.MembersSeen,
		ContactsCreated: r.Created, ContactsUpdated: r.Updated, ContactsMerged: r.Merged,
		MembersWithoutPhone: r.WithoutPhone, Errors: r.Errors, LastError: r.LastError, ResumeAt: utcPtr(r.ResumeAt),
		Version: r.Version, CreatedAt: r.CreatedAt.UTC(), StartedAt: utcPtr(r.StartedAt), FinishedAt: utcPtr(r.FinishedAt),
		UpdatedAt: r.UpdatedAt.UTC(),
	}
}

// scrapeGroupRow is one group of a job (scrape_job_groups).
type scrapeGroupRow struct {
	bun.BaseModel `bun:"table:scrape_job_groups"`

	ScrapeID int64      `bun:"scrape_id,pk"`
	GroupJID string     `bun:"group_jid,pk"`
	DoneAt   *time.Time `bun:"done_at"`
	Members  int        `bun:"members,notnull"`
	Error    string     `bun:"error,notnull"`
}

// ScrapeArgs is the River job that scrapes; the job's id is the scrape's.
type ScrapeArgs struct {
	AccountID string `json:"account_id"`
}

// Kind implements river.JobArgs.
func (ScrapeArgs) Kind() string { return "scrape_group" }

// scrapeMaxAttempts bounds the failed runs of a scrape (WhatsApp errors
// other than rate-overlimit, an account not connected); waiting for a rate
// limit or for the next slice is not an attempt.
const scrapeMaxAttempts = 8

// Limits of one scrape request.
const (
	MaxScrapeGroups   = 1000
	MaxScrapePersonas = 20
)

// ScrapeInput asks for a scrape: the groups by JID, or all of the
// account's groups; every member is linked to the personas.
type ScrapeInput struct {
	AccountID  string
	GroupJIDs  []string
	All        bool
	PersonaIDs []string
}

var groupJIDPattern = regexp.MustCompile(`^[0-9]+(-[0-9]+)?@g\.us$`)

func (g *GroupService) checkScrape(ctx context.Context, in ScrapeInput) (ScrapeInput, error) {
	if err := checkAccountID(in.AccountID); err != nil {
		return in, err
	}
	if g.opts.CheckAccount != nil {
		if err := g.opts.CheckAccount(ctx, in.AccountID); err != nil {
			return in, err
		}
	}
	if in.All == (len(in.GroupJIDs) > 0) {
		return in, apperr.Invalid("groupJids", "give either groupJids or all: true",
			"List the groups to scrape by JID (from the groups query), or set all: true for every group of the account.")
	}
	if len(in.GroupJIDs) > MaxScrapeGroups {
		return in, apperr.Invalid("groupJids", fmt.Sprintf("at most %d groups per scrape; %d given", MaxScrapeGroups, len(in.GroupJIDs)),
			"Use all: true, or split the list into several scrapes.")
	}
	seen := map[string]bool{}
	jids := make([]string, 0, len(in.GroupJIDs))
	for _, j := range in.GroupJIDs {
		j = strings.TrimSpace(j)
		if !groupJIDPattern.MatchString(j) {
			return in, apperr.Invalid("groupJids", "'"+clip(j)+"' is not a group JID",
				"Group JIDs look like 120363012345678901@g.us; take them from the groups query.")
		}
		if !seen[j] {
			seen[j] = true
			jids = append(jids, j)
		}
	}
	in.GroupJIDs = jids
	if len(in.PersonaIDs) > MaxScrapePersonas {
		return in, apperr.Invalid("personaIds", fmt.Sprintf("at most %d personas", MaxScrapePersonas), "Link fewer personas; add more later with addContactsToPersona.")
	}
	for _, id := range in.PersonaIDs {
		if _, err := g.svc.personas.get(ctx, g.db, id); err != nil {
			return in, err
		}
	}
	return in, nil
}

// StartScrape enqueues a scrape job (in the same transaction as its row)
// and returns it.
func (g *GroupService) StartScrape(ctx context.Context, in ScrapeInput) (*ScrapeJob, error) {
	in, err := g.checkScrape(ctx, in)
	if err != nil {
		return nil, err
	}
	personas, _ := json.Marshal(append([]string{}, in.PersonaIDs...))
	now := g.svc.now()
	var row *scrapeRow
	err = g.db.InTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		job, err := g.jobs.Enqueue(ctx, tx, ScrapeArgs{AccountID: in.AccountID}, &river.InsertOpts{MaxAttempts: scrapeMaxAttempts})
		if err != nil {
			return err
		}
		row = &scrapeRow{
			ID: job.ID, AccountID: in.AccountID, AllGroups: in.All, TargetsReady: !in.All, PersonaIDs: string(personas),
			State: string(ScrapeQueued), GroupsTotal: len(in.GroupJIDs), Version: 1, CreatedAt: now, UpdatedAt: now,
		}
		if _, err := tx.NewInsert().Model(row).Exec(ctx); err != nil {
			return fmt.Errorf("contact: save scrape job: %w", err)
		}
		return insertScrapeGroups(ctx, tx, job.ID, in.GroupJIDs)
	})
	if err != nil {
		return nil, err
	}
	g.log.Info().Int64("scrape_id", row.ID).Str("account_id", in.AccountID).Bool("all", in.All).Int("groups", len(in.GroupJIDs)).Msg("scrape enqueued")
	job := row.toJob()
	g.publish(ctx, job)
	return job, nil
}

func insertScrapeGroups(ctx context.Context, tx bun.IDB, id int64, jids []string) error {
	for start := 0; start < len(jids); start += participantBatch {
		rows := make([]scrapeGroupRow, 0, participantBatch)
		for _, j := range jids[start:min(start+participantBatch, len(jids))] {
			rows = append(rows, scrapeGroupRow{ScrapeID: id, GroupJID: j})
		}
		if _, err := tx.NewInsert().Model(&rows).On("CONFLICT DO NOTHING").Exec(ctx); err != nil {
			return fmt.Errorf("contact: save scrape groups: %w", err)
		}
	}
	return nil
}

func scrapeNotFound(id int64) error {
	return apperr.Newf(apperr.NotFound, "there is no scrape job %d", id).
		WithSuggestion("List the account's scrapes with scrapeJobs; finished ones are kept.")
}

func (g *GroupService) loadScrape(ctx context.Context, db bun.IDB, id int64) (*scrapeRow, error) {
	var r scrapeRow
	err := db.NewSelect().Model(&r).Where("id = ?", id).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, scrapeNotFound(id)
	}
	if err != nil {
		return nil, fmt.Errorf("contact: load scrape job: %w", err)
	}
	return &r, nil
}

// GetScrape returns one scrape job with its progress.
func (g *GroupService) GetScrape(ctx context.Context, id int64) (*ScrapeJob, error) {
	r, err := g.loadScrape(ctx, g.db, id)
	if err != nil {
		return nil, err
	}
	return r.toJob(), nil
}

// ScrapePage is one page of scrape jobs, newest first.
type ScrapePage struct {
	Jobs        []*ScrapeJob
	HasNextPage bool
	TotalCount  int
}

// ListScrapes returns the account's scrape jobs, newest first, after the
// job afterID (0 for the first page).
func (g *GroupService) ListScrapes(ctx context.Context, accountID string, first *int, afterID int64) (*ScrapePage, error) {
	n, err := paging.Size(first)
	if err != nil {
		return nil, err
	}
	if err := checkAccountID(accountID); err != nil {
		return nil, err
	}
	total, err := g.db.NewSelect().Model((*scrapeRow)(nil)).Where("account_id = ?", accountID).Count(ctx)
	if err != nil {
		return nil, fmt.Errorf("contact: count scrape jobs: %w", err)
	}
	var rows []*scrapeRow
	q := g.db.NewSelect().Model(&rows).Where("account_id = ?", accountID)
	if afterID > 0 {
		q = q.Where("id < ?", afterID)
	}
	if err := q.OrderExpr("id DESC").Limit(int64(n + 1)).Scan(ctx); err != nil {
		return nil, fmt.Errorf("contact: list scrape jobs: %w", err)
	}
	page := &ScrapePage{TotalCount: int(total), Jobs: []*ScrapeJob{}}
	if len(rows) > n {
		rows, page.HasNextPage = rows[:n], true
	}
	for _, r := range rows {
		page.Jobs = append(page.Jobs, r.toJob())
	}
	return page, nil
}

// CancelScrape stops a scrape: what it wrote stays, the rest is not
// scraped. A job already over is INVALID_TRANSITION.
func (g *GroupService) CancelScrape(ctx context.Context, id int64) (*ScrapeJob, error) {
	now := g.svc.now()
	var row *scrapeRow
	err := g.db.InTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		r, err := g.loadScrape(ctx, tx, id)
		if err != nil {
			return err
		}
		if ScrapeState(r.State).Final() {
			return apperr.Newf(apperr.InvalidTransition, "scrape job %d is already %s", id, r.State).
				WithSuggestion("Only a queued, running or waiting scrape can be canceled; start a new one with scrapeGroups.")
		}
		r.State, r.FinishedAt, r.ResumeAt, r.UpdatedAt = string(ScrapeCanceled), &now, nil, now
		r.Version++
		if _, err := tx.NewUpdate().Model(r).Column("state", "finished_at", "resume_at", "updated_at", "version").WherePK().Exec(ctx); err != nil {
			return fmt.Errorf("contact: cancel scrape: %w", err)
		}
		row = r
		return nil
	})
	if err != nil {
		return nil, err
	}
	// River cancels a job waiting to run at once, and asks a running one
	// to stop; the worker also sees the CANCELED row before its next group.
	if _, err := g.jobs.Cancel(ctx, id); err != nil {
		g.log.Warn().Err(err).Int64("scrape_id", id).Msg("River did not cancel the scrape job; it stops at its next group")
	}
	g.opts.Metrics.ScrapeFinished(ScrapeCanceled)
	job := row.toJob()
	g.publish(ctx, job)
	return job, nil
}

// ScrapeTopic is where a scrape job's changes are published.
func ScrapeTopic(id int64) bus.Topic[ScrapeJob] {
	return bus.Topic[ScrapeJob]("scrape:" + strconv.FormatInt(id, 10))
}

// publish announces a job's new state; a failed publish is logged (the
// stream reloads its snapshot when it sees a version skipped).
func (g *GroupService) publish(ctx context.Context, job *ScrapeJob) {
	if g.bus == nil {
		return
	}
	if err := bus.Publish(context.WithoutCancel(ctx), g.bus, ScrapeTopic(job.ID), *job); err != nil {
		g.log.Warn().Err(err).Int64("scrape_id", job.ID).Msg("scrape progress not published")
	}
}

// ScrapeSource is the live stream of one scrape job: its current state,
// then every change, ending after the final one (DONE, FAILED, CANCELED).
func (g *GroupService) ScrapeSource(id int64) live.Source[ScrapeJob] {
	return live.Source[ScrapeJob]{
		Topic: ScrapeTopic(id),
		Snapshot: func(ctx context.Context) ([]ScrapeJob, error) {
			j, err := g.GetScrape(ctx, id)
			if err != nil {
				return nil, err
			}
			return []ScrapeJob{*j}, nil
		},
		Key:     func(j ScrapeJob) string { return strconv.FormatInt(j.ID, 10) },
		Version: func(j ScrapeJob) int64 { return j.Version },
		Final:   func(j ScrapeJob) bool { return j.State.Final() },
		Gapless: true,
	}
}

// WatchScrape opens the live stream of a scrape job (ScrapeSource).
func (g *GroupService) WatchScrape(ctx context.Context, id int64) (*live.Cursor[ScrapeJob], error) {
	return live.Open(ctx, g.bus, g.ScrapeSource(id))
}
