package graph

import (
	"slices"
	"time"

	"wagraph/graph/model"
	"wagraph/internal/account"
)

// qrImageSize is the side of the QR PNG in pixels: large enough to scan from
// a laptop screen, small enough for a data URL.
const qrImageSize = 256

// accountModel maps an account to its GraphQL shape.
func accountModel(a *account.Account, now time.Time) *model.Account {
	out := &model.Account{
		ID:               a.ID,
		Name:             a.Name,
		Status:           model.AccountStatus(a.Status),
		StatusReason:     statusReason(a.Reason),
		Version:          int(a.Version),
		PhoneNumber:      optString(a.PhoneNumber),
		Jid:              optString(a.JID),
		Lid:              optString(a.LID),
		PushName:         optString(a.PushName),
		Platform:         optString(a.Platform),
		BusinessName:     optString(a.BusinessName),
		BannedUntil:      optTime(a.BannedUntil),
		LastConnectedAt:  optTime(a.LastConnectedAt),
		LastActiveAt:     optTime(a.LastActiveAt),
		SessionExpiresAt: optTime(a.SessionExpiresAt),
		CreatedAt:        a.CreatedAt,
		UpdatedAt:        a.UpdatedAt,
	}
	if act := a.Activation; act != nil {
		out.Activation = &model.Activation{
			Method:             model.ActivationMethod(act.Method),
			StartedAt:          act.StartedAt,
			ExpiresAt:          act.ExpiresAt,
			SecondsRemaining:   act.SecondsRemaining(now),
			PairingCode:        optString(act.PairingCode),
			PairingPhoneNumber: optString(act.PhoneNumber),
		}
		if act.QR != nil {
			out.Activation.QR = &model.ActivationQR{Code: act.QR.Code, ExpiresAt: act.QR.ExpiresAt}
		}
	}
	return out
}

func statusReason(r account.Reason) *model.StatusReason {
	return &model.StatusReason{Code: string(r.Code), Message: r.Message, Suggestion: optString(r.Suggestion)}
}

func accountConnection(page *account.AccountPage, after string, now time.Time) *model.AccountConnection {
	out := &model.AccountConnection{Edges: []*model.AccountEdge{}, TotalCount: page.TotalCount}
	for _, a := range page.Accounts {
		out.Edges = append(out.Edges, &model.AccountEdge{Cursor: account.AccountCursor(a.ID), Node: accountModel(a, now)})
	}
	out.PageInfo = &model.PageInfo{HasNextPage: page.HasNextPage, HasPreviousPage: after != ""}
	if n := len(out.Edges); n > 0 {
		out.PageInfo.StartCursor, out.PageInfo.EndCursor = &out.Edges[0].Cursor, &out.Edges[n-1].Cursor
	}
	return out
}

func statusChangeConnection(page *account.HistoryPage, after string) *model.AccountStatusChangeConnection {
	out := &model.AccountStatusChangeConnection{Edges: []*model.AccountStatusChangeEdge{}, TotalCount: page.TotalCount}
	for _, c := range page.Changes {
		out.Edges = append(out.Edges, &model.AccountStatusChangeEdge{Cursor: account.HistoryCursor(c.Version), Node: statusChange(c)})
	}
	out.PageInfo = &model.PageInfo{HasNextPage: page.HasNextPage, HasPreviousPage: after != ""}
	if n := len(out.Edges); n > 0 {
		out.PageInfo.StartCursor, out.PageInfo.EndCursor = &out.Edges[0].Cursor, &out.Edges[n-1].Cursor
	}
	return out
}

func statusChange(c account.StatusChange) *model.AccountStatusChange {
	out := &model.AccountStatusChange{Version: int(c.Version), To: model.AccountStatus(c.To), Reason: statusReason(c.Reason), At: c.At}
	if c.From != "" {
		from := model.AccountStatus(c.From)
		out.From = &from
	}
	return out
}

// accountStatuses maps a status filter, each status once: a client may
// repeat them (tens of thousands of times), and the SQL IN list must not grow
// with the repeats.
func accountStatuses(in []model.AccountStatus) []account.Status {
	out := make([]account.Status, 0, min(len(in), 16))
	for _, s := range in {
		if st := account.Status(s); !slices.Contains(out, st) {
			out = append(out, st)
		}
	}
	return out
}

func optString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// accountStatusEvent maps a status event of the live stream to its GraphQL
// shape.
func accountStatusEvent(ev account.StatusEvent, now time.Time) *model.AccountStatusEvent {
	a := ev.Account
	if a == nil { // published by a wagraph version that did not send it
		a = &account.Account{ID: ev.AccountID, Status: ev.To, Reason: ev.Reason, Version: ev.Version, PhoneNumber: ev.PhoneNumber, UpdatedAt: ev.At}
	}
	out := &model.AccountStatusEvent{
		AccountID: ev.AccountID,
		Version:   int(ev.Version),
		Account:   accountModel(a, now),
		Snapshot:  ev.Snapshot,
		Deleted:   ev.Deleted,
	}
	if !ev.Snapshot {
		out.Change = statusChange(ev.StatusChange)
	}
	return out
}

// qrCodeEvent maps a QR event of the live stream to its GraphQL shape, with
// the countdowns as of now (when it is sent).
func qrCodeEvent(ev account.QREvent, now time.Time) *model.QRCodeEvent {
	out := &model.QRCodeEvent{
		AccountID:     ev.AccountID,
		Version:       int(ev.Version),
		StatusVersion: int(ev.StatusVersion),
		Status:        model.AccountStatus(ev.Status),
		Code:          optString(ev.Code),
		PairingCode:   optString(ev.PairingCode),
		Done:          ev.Done,
		Deleted:       ev.Deleted,
	}
	if !ev.ExpiresAt.IsZero() {
		out.ExpiresAt = &ev.ExpiresAt
		out.SecondsRemaining = secondsUntil(ev.ExpiresAt, now)
	}
	if !ev.ActivationExpiresAt.IsZero() {
		out.ActivationExpiresAt = &ev.ActivationExpiresAt
		out.ActivationSecondsRemaining = secondsUntil(ev.ActivationExpiresAt, now)
	}
	return out
}

// secondsUntil is a countdown to t in whole seconds, rounded up, never
// negative.
func secondsUntil(t, now time.Time) *int {
	s := (&account.Activation{ExpiresAt: t}).SecondsRemaining(now)
	return &s
}
