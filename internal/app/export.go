package app

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/rs/zerolog"

	"wagraph/internal/apperr"
	"wagraph/internal/auth"
	"wagraph/internal/contact"
)

// exportAllowed admits a CSV export: GET or HEAD, with a token of VIEWER
// or more. Otherwise it writes the refusal (what names what is exported;
// usage is the suggestion for a wrong method) and returns false.
func exportAllowed(w http.ResponseWriter, r *http.Request, what, usage string) (auth.Principal, bool) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeError(w, http.StatusMethodNotAllowed, apperr.Newf(apperr.BadRequest, "%s is not allowed here; the export is read with GET", r.Method).
			WithSuggestion(usage))
		return auth.Principal{}, false
	}
	p, ok := auth.FromContext(r.Context())
	if !ok {
		err := apperr.New(apperr.Unauthenticated, "exporting "+what+" needs an API token")
		if authErr := auth.ErrorFromContext(r.Context()); authErr != nil {
			if e, coded := apperr.As(authErr); coded {
				err = e
			}
		}
		writeError(w, http.StatusUnauthorized, err)
		return p, false
	}
	if !p.Role.Allows(auth.Viewer) {
		writeError(w, http.StatusForbidden, apperr.Newf(apperr.Forbidden, "exporting %s needs the VIEWER role; your token has %s", what, p.Role))
		return p, false
	}
	return p, true
}

// exportContacts serves GET /export/contacts.csv: the contacts matching the
// query parameters (the contacts query's filter: personaId, accountId,
// groupJid, source, search, hasPhone, optedOut) as CSV, streamed, for a
// token with VIEWER or more.
func exportContacts(svc *contact.Service, log zerolog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := exportAllowed(w, r, "contacts", "Send GET /export/contacts.csv with the filter as query parameters.")
		if !ok {
			return
		}
		f, ferr := exportFilter(r)
		if ferr != nil {
			writeError(w, http.StatusBadRequest, ferr)
			return
		}
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="contacts-`+time.Now().UTC().Format("20060102-150405")+`.csv"`)
		w.Header().Set("X-Content-Type-Options", "nosniff")
		n, err := svc.ExportCSV(r.Context(), w, f)
		if err != nil {
			// The status line is sent with the first row; a failure after
			// it can only cut the stream short, which the client sees as a
			// truncated body. One before the first row is reported.
			if e, coded := apperr.As(err); coded && n == 0 {
				writeError(w, http.StatusBadRequest, e)
				return
			}
			log.Warn().Err(err).Int("rows", n).Msg("contact export cut short")
			return
		}
		log.Info().Int("rows", n).Str("token", p.TokenName).Msg("contacts exported")
	})
}

func exportFilter(r *http.Request) (contact.Filter, *apperr.Error) {
	q := r.URL.Query()
	f := contact.Filter{
		PersonaID: q.Get("personaId"), AccountID: q.Get("accountId"), GroupJID: q.Get("groupJid"),
		Source: contact.SourceKind(q.Get("source")), Search: q.Get("search"),
	}
	for name, dst := range map[string]**bool{"hasPhone": &f.HasPhone, "optedOut": &f.OptedOut} {
		if v := q.Get(name); v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return f, apperr.Invalid(name, name+" must be true or false", "Leave it out to not filter by it.")
			}
			*dst = &b
		}
	}
	return f, nil
}

// writeError answers with a GraphQL-shaped error body, as /graphql does.
func writeError(w http.ResponseWriter, status int, e *apperr.Error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	ext := map[string]any{"code": e.Code, "suggestion": e.Suggestion, "retryable": e.Retryable}
	if e.Field != "" {
		ext["field"] = e.Field
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"errors": []any{map[string]any{"message": e.Message, "extensions": ext}}})
}
