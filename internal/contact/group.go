package contact

import (
	"context"
	"errors"
	"time"

	"github.com/rs/zerolog"

	"wagraph/internal/apperr"
	"wagraph/internal/bus"
	"wagraph/internal/jobs"
	"wagraph/internal/store"
)

// Group is a WhatsApp group an account is in, as last read from WhatsApp.
type Group struct {
	AccountID        string
	JID              string
	Name             string
	Topic            string
	ParticipantCount int
	// Announce: only admins may send. Community: the group is a community
	// (the parent of other groups).
	Announce  bool
	Community bool
	// AddressingMode is "pn" (members listed by number) or "lid".
	AddressingMode string
	RefreshedAt    time.Time
}

// Participant is a member of a group as WhatsApp lists it.
type Participant struct {
	// JID is how WhatsApp lists the member: a number (…@s.whatsapp.net) or
	// a LID (…@lid).
	JID string
	// Phone in E.164, empty when WhatsApp does not give it; LID likewise.
	Phone       string
	LID         string
	DisplayName string
	Admin       bool
	SuperAdmin  bool
	// Self marks the account itself: listed as a member, never scraped
	// into the contact base.
	Self bool
}

// Role is the participant's role: "superadmin", "admin" or "member".
func (p Participant) Role() string {
	switch {
	case p.SuperAdmin:
		return "superadmin"
	case p.Admin:
		return "admin"
	}
	return "member"
}

// WAGroup is a group as the WhatsApp port reads it, with its members.
type WAGroup struct {
	Group
	Participants []Participant
}

// WhatsAppGroups is what the group features need from WhatsApp: the port
// this package owns, implemented on the live sessions by internal/whatsapp.
// Every method works through the account's live client on this instance
// and fails with ErrNotConnected when there is none.
type WhatsAppGroups interface {
	// JoinedGroups reads every group the account is in, with members, in
	// one call (whatsmeow GetJoinedGroups).
	JoinedGroups(ctx context.Context, accountID string) ([]WAGroup, error)
	// GroupInfo reads one group with its members; ErrGroupNotFound when the
	// account is not (or no longer) in it.
	GroupInfo(ctx context.Context, accountID, jid string) (*WAGroup, error)
	// PhonesForLIDs looks LIDs up in the account's LID store (what
	// WhatsApp has told the client so far; no network call) and returns
	// the numbers (E.164) of those it knows.
	PhonesForLIDs(ctx context.Context, accountID string, lids []string) (map[string]string, error)
}

// Errors of the WhatsApp port.
var (
	// ErrNotConnected: the account has no live, logged-in session here.
	ErrNotConnected = errors.New("contact: the account is not connected")
	// ErrGroupNotFound: WhatsApp does not know the group or the account is
	// not a member.
	ErrGroupNotFound = errors.New("contact: group not found")
	// ErrRateLimited: WhatsApp answered rate-overlimit (429).
	ErrRateLimited = errors.New("contact: WhatsApp rate-overlimit")
)

// GroupOptions tune the GroupService. Zero fields take the defaults.
type GroupOptions struct {
	Logger zerolog.Logger
	// Interval is the least time between two group calls of one account
	// to WhatsApp while scraping (SCRAPE_GROUP_INTERVAL, default 2s).
	Interval time.Duration
	// Backoff is the wait after a rate-overlimit answer; it doubles with
	// each answer in a row, up to MaxBackoff (SCRAPE_RATE_LIMIT_BACKOFF,
	// default 1m; max default 30m).
	Backoff    time.Duration
	MaxBackoff time.Duration
	// Slice bounds how long one run of a scrape job works before it hands
	// the rest to its next run (River snooze), so a long scrape stays
	// within the job timeout. Default 40s.
	Slice time.Duration
	// JobTimeout bounds one run of a scrape job (River cancels its context
	// after it): the longest step, the listing of all: true, is one
	// GetJoinedGroups call (whatsmeow waits up to 75 s for the answer), the
	// storing of its LID mappings (about 10 s for 400,000 on Postgres,
	// whatsapp.LIDMap) and of the groups; the groups after it hand over
	// every Slice. Default 10m, which must stay below JOB_RESCUE_AFTER so a
	// live run is never taken for stuck (internal/app caps it).
	JobTimeout time.Duration
	// Metrics defaults to NopScrapeMetrics.
	Metrics ScrapeMetrics
	// CheckAccount, when set, refuses a scrape of an account that does not
	// exist (its error, e.g. NOT_FOUND, is returned as is).
	CheckAccount func(ctx context.Context, accountID string) error
}

func (o GroupOptions) withDefaults() GroupOptions {
	if o.Interval <= 0 {
		o.Interval = 2 * time.Second
	}
	if o.Backoff <= 0 {
		o.Backoff = time.Minute
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 30 * time.Minute
	}
	if o.MaxBackoff < o.Backoff {
		o.MaxBackoff = o.Backoff
	}
	if o.Slice <= 0 {
		o.Slice = 40 * time.Second
	}
	if o.JobTimeout <= 0 {
		o.JobTimeout = 10 * time.Minute
	}
	if o.Metrics == nil {
		o.Metrics = NopScrapeMetrics{}
	}
	return o
}

// GroupService holds the accounts' groups and scrapes their members into
// the contact base (River jobs), with live progress.
type GroupService struct {
	svc   *Service
	db    *store.DB
	bus   bus.Bus
	jobs  *jobs.Service
	wa    WhatsAppGroups
	opts  GroupOptions
	log   zerolog.Logger
	pacer *pacer
}

// NewGroupService builds the group service on the contact base svc. wa
// may be set later with SetWhatsApp (the sessions are built after the
// services); until then every call to WhatsApp fails with ErrNotConnected.
func NewGroupService(svc *Service, b bus.Bus, j *jobs.Service, wa WhatsAppGroups, opts GroupOptions) *GroupService {
	opts = opts.withDefaults()
	return &GroupService{
		svc: svc, db: svc.db, bus: b, jobs: j, wa: wa, opts: opts,
		log:   opts.Logger.With().Str("component", "groups").Logger(),
		pacer: newPacer(opts.Interval),
	}
}

// SetWhatsApp sets the WhatsApp port; call it before jobs start.
func (g *GroupService) SetWhatsApp(wa WhatsAppGroups) { g.wa = wa }

func (g *GroupService) whatsapp() WhatsAppGroups {
	if g.wa == nil {
		return noWhatsApp{}
	}
	return g.wa
}

type noWhatsApp struct{}

func (noWhatsApp) JoinedGroups(context.Context, string) ([]WAGroup, error) {
	return nil, ErrNotConnected
}

func (noWhatsApp) GroupInfo(context.Context, string, string) (*WAGroup, error) {
	return nil, ErrNotConnected
}

func (noWhatsApp) PhonesForLIDs(context.Context, string, []string) (map[string]string, error) {
	return nil, ErrNotConnected
}

// waError turns a port error into what the API shows.
func waError(accountID string, err error) error {
	switch {
	case errors.Is(err, ErrNotConnected):
		return apperr.Newf(apperr.Unavailable, "account %s is not connected on this server", accountID).
			WithSuggestion("Connect the account (connectAccount) and wait for ACTIVE, then try again.")
	case errors.Is(err, ErrRateLimited):
		e := apperr.New(apperr.RateLimited, "WhatsApp answered rate-overlimit for this account's group queries")
		e.Suggestion = "Wait a minute before reading the groups again; a scrape job waits and resumes by itself."
		e.Retryable = true
		e.RetryAfter = time.Minute
		return e
	case errors.Is(err, ErrGroupNotFound):
		return apperr.New(apperr.NotFound, "WhatsApp does not know this group or the account is not in it").
			WithSuggestion("Refresh the account's groups (refreshGroups) and pick a group from the list.")
	}
	return err
}
