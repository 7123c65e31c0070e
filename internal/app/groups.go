package app

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"go.mau.fi/whatsmeow/types"

	"wagraph/internal/apperr"
	"wagraph/internal/contact"
)

// newGroups builds the group service on the contact base and registers its
// scrape worker before the jobs start; startAccounts hands it the session
// manager (its WhatsApp port) and reports LID mappings to it.
func (a *App) newGroups() {
	metrics := a.Metrics.Scrapes(func(ctx context.Context) (map[contact.ScrapeState]int, error) { return a.Groups.CountScrapes(ctx) })
	a.Groups = contact.NewGroupService(a.Contacts, a.Bus, a.Jobs, nil, contact.GroupOptions{
		Logger:     a.Log,
		Interval:   a.Config.ScrapeGroupInterval,
		Backoff:    a.Config.ScrapeRateLimitBackoff,
		Slice:      scrapeSlice(a.Config.JobRescueAfter),
		JobTimeout: scrapeJobTimeout(a.Config.JobRescueAfter),
		Metrics:    metrics,
		CheckAccount: func(ctx context.Context, id string) error {
			_, err := a.Accounts.Get(ctx, id)
			return err
		},
	})
	a.Groups.RegisterJobs(a.JobRegistry)
}

// scrapeSlice is how long one run of a scrape job works before it hands the
// rest to its next run: well within the job timeout (River's one minute, or
// JOB_RESCUE_AFTER when that is shorter).
func scrapeSlice(rescueAfter time.Duration) time.Duration {
	timeout := time.Minute
	if rescueAfter > 0 && rescueAfter < timeout {
		timeout = rescueAfter
	}
	return timeout * 2 / 3
}

// scrapeJobTimeout bounds one run of a scrape job: 10 minutes (the listing
// of an account in hundreds of big groups), or two thirds of
// JOB_RESCUE_AFTER when that is shorter, so a live run is never taken for
// stuck.
func scrapeJobTimeout(rescueAfter time.Duration) time.Duration {
	timeout := 10 * time.Minute
	if rescueAfter > 0 && rescueAfter*2/3 < timeout {
		timeout = rescueAfter * 2 / 3
	}
	return timeout
}

// lidsLearned hands the LID mappings a session learnt to the group service
// (whatsapp.Options.LIDsLearned).
func (a *App) lidsLearned(ctx context.Context, accountID string, lidToPhone map[string]string) {
	if _, err := a.Groups.LIDsLearned(ctx, accountID, lidToPhone); err != nil {
		a.Log.Warn().Err(err).Str("account_id", accountID).Msg("LID mappings not applied to the contact base")
	}
}

// addDemoGroups puts the phone that just linked in the simulator's demo
// groups, so a new user can refresh groups and scrape straight away.
// number is the phone's number in E.164.
func (d *demoPhone) addDemoGroups(log zerolog.Logger, number string) {
	jids, err := d.sim.AddDemoGroups(types.NewJID(strings.TrimPrefix(number, "+"), types.DefaultUserServer))
	if err != nil {
		log.Warn().Err(err).Msg("the demo groups could not be created")
		return
	}
	if len(jids) > 0 {
		log.Info().Int("groups", len(jids)).Msg("the simulated phone is in three demo groups: refreshGroups, then scrapeGroups")
	}
}

// exportParticipants serves GET /export/groups/participants.csv?accountId=…&jid=…:
// a group's members as CSV (jid, phone, lid, name, role), streamed, for a
// token with VIEWER or more.
func exportParticipants(groups *contact.GroupService, log zerolog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := exportAllowed(w, r, "group members", "Send GET /export/groups/participants.csv?accountId=…&jid=…")
		if !ok {
			return
		}
		q := r.URL.Query()
		accountID, jid := q.Get("accountId"), q.Get("jid")
		if accountID == "" || jid == "" {
			writeError(w, http.StatusBadRequest, apperr.Invalid("jid", "accountId and jid are needed",
				"Give the account and the group's JID, e.g. ?accountId=…&jid=120363012345678901@g.us (from the groups query)."))
			return
		}
		if _, err := groups.GetGroup(r.Context(), accountID, jid); err != nil {
			if e, coded := apperr.As(err); coded && e.Code == apperr.NotFound {
				writeError(w, http.StatusNotFound, e)
				return
			}
			log.Warn().Err(err).Msg("group export failed")
			writeError(w, http.StatusInternalServerError, apperr.New(apperr.Internal, "the group could not be read"))
			return
		}
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="group-members-`+time.Now().UTC().Format("20060102-150405")+`.csv"`)
		w.Header().Set("X-Content-Type-Options", "nosniff")
		n, err := groups.ExportParticipantsCSV(r.Context(), w, accountID, jid)
		if err != nil {
			log.Warn().Err(err).Int("rows", n).Msg("group members export cut short")
			return
		}
		log.Info().Int("rows", n).Str("group_jid", jid).Str("token", p.TokenName).Msg("group members exported")
	})
}

// connectGroups hands the group service its WhatsApp port once the
// sessions exist: the live sessions, or with several instances the
// sessions of each account's owner (routedGroups).
func (a *App) connectGroups() {
	var port contact.WhatsAppGroups = a.sessions
	if router := a.Supervisor.Router(); router != nil {
		port = newRoutedGroups(a.sessions, a.Supervisor, router)
	}
	a.Groups.SetWhatsApp(port)
}
