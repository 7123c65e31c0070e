package account

import (
	"context"

	"wagraph/internal/live"
)

// WatchStatus opens the live stream of status events of one account or,
// with accountID empty, of every account (see StatusSource): the current
// state first, then each change. The stream ends with ctx, or after the
// deletion of a watched account; Close releases it earlier.
func (s *Service) WatchStatus(ctx context.Context, accountID string) (*live.Cursor[StatusEvent], error) {
	return live.Open(ctx, s.bus, s.StatusSource(accountID))
}

// WatchQR opens the live stream of one account's activation codes (see
// QRSource): the current code, then new codes and the activation's progress
// until it ends.
func (s *Service) WatchQR(ctx context.Context, accountID string) (*live.Cursor[QREvent], error) {
	return live.Open(ctx, s.bus, s.QRSource(accountID))
}

// StatusSnapshotLimit caps the snapshot of the all-accounts status stream:
// a new subscriber first gets the current state of at most this many
// accounts, in creation order, then every change of any account. A client
// with more accounts pages through the accounts query for the rest.
const StatusSnapshotLimit = 1000

// StatusSource is the live stream of status events of one account or, with
// accountID empty, of every account. It starts with the current state
// (Snapshot events; NOT_FOUND for an unknown account) and then carries each
// change, newer versions only. The stream of one account ends after the
// event of its deletion.
func (s *Service) StatusSource(accountID string) live.Source[StatusEvent] {
	src := live.Source[StatusEvent]{
		Key:     func(ev StatusEvent) string { return ev.AccountID },
		Version: StatusEvent.Order,
		// Every revision of an account is published (modify, Delete).
		Gapless: true,
	}
	if accountID == "" {
		src.Topic = AllStatusTopic
		src.Snapshot = s.allStatusSnapshot
		return src
	}
	src.Topic = StatusTopic(accountID)
	src.Snapshot = func(ctx context.Context) ([]StatusEvent, error) {
		a, err := s.Get(ctx, accountID)
		if err != nil {
			return nil, err
		}
		return []StatusEvent{snapshotEvent(a)}, nil
	}
	src.Final = func(ev StatusEvent) bool { return ev.Deleted }
	return src
}

func (s *Service) allStatusSnapshot(ctx context.Context) ([]StatusEvent, error) {
	rows, err := s.accounts.list(ctx, s.db.DB, listFilter{limit: StatusSnapshotLimit})
	if err != nil {
		return nil, err
	}
	out := make([]StatusEvent, len(rows))
	for i, r := range rows {
		out[i] = snapshotEvent(r.toAccount(s.opts.SessionIdleLimit))
	}
	return out, nil
}

// snapshotEvent presents an account's current state as a status event.
func snapshotEvent(a *Account) StatusEvent {
	return StatusEvent{
		StatusChange: StatusChange{AccountID: a.ID, Version: a.Version, To: a.Status, Reason: a.Reason, At: a.UpdatedAt},
		Revision:     a.Revision,
		PhoneNumber:  a.PhoneNumber,
		Account:      a,
		Snapshot:     true,
	}
}

// QRSource is the live stream of one account's activation codes: it starts
// with the current code (none unless the account is AWAITING_SCAN; NOT_FOUND
// for an unknown account), then carries new codes and the activation's
// progress, and ends after the Done event of the activation. Subscribed
// while no activation runs, it waits for the next one.
func (s *Service) QRSource(accountID string) live.Source[QREvent] {
	return live.Source[QREvent]{
		Topic: QRTopic(accountID),
		Snapshot: func(ctx context.Context) ([]QREvent, error) {
			ev, err := s.CurrentQR(ctx, accountID)
			if err != nil {
				return nil, err
			}
			return []QREvent{ev}, nil
		},
		Key:     func(ev QREvent) string { return ev.AccountID },
		Version: func(ev QREvent) int64 { return ev.Version },
		Final:   func(ev QREvent) bool { return ev.Done },
		// Every QR version is published (modify, Delete).
		Gapless: true,
	}
}
