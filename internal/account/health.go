package account

import (
	"context"
)

// PhoneRepair is a linked account without a phone number.
type PhoneRepair struct {
	AccountID string
	Status    Status
	// JID is the stored device; the number may be derived from it.
	JID string
	// LID is the device's stored LID, under which whatsmeow's device store
	// may know its JID.
	LID string
}

// MissingPhoneNumbers lists the linked accounts (WARMING, ACTIVE,
// DISCONNECTED, RECONNECTING) that have no phone number.
func (s *Service) MissingPhoneNumbers(ctx context.Context) ([]PhoneRepair, error) {
	rows, err := s.accounts.inStatus(ctx, s.db.DB, StatusWarming, StatusActive, StatusDisconnected, StatusReconnecting)
	if err != nil {
		return nil, err
	}
	var out []PhoneRepair
	for _, r := range rows {
		if r.PhoneNumber == "" {
			out = append(out, PhoneRepair{AccountID: r.ID, Status: r.Status, JID: r.JID, LID: r.LID})
		}
	}
	return out, nil
}

// RepairPhone stores the phone number found for an account that had none
// (dev from the device store or a live session, used when its stored JID
// does not tell the number), and completes its warming. found says whether a number was
// found and stored.
func (s *Service) RepairPhone(ctx context.Context, p PhoneRepair, dev Device) (step Step, found bool, err error) {
	phone, jid := PhoneFromJID(p.JID), p.JID
	if phone == "" && (dev.JID != "" || dev.PhoneNumber != "") {
		dev = withPhone(dev)
		phone, jid = dev.PhoneNumber, dev.JID
	}
	if phone == "" {
		return Step{Skipped: true}, false, nil
	}
	res, err := s.modify(ctx, p.AccountID, func(u *update) error {
		if u.row.PhoneNumber != "" {
			return errSkip
		}
		u.row.PhoneNumber = phone
		if u.row.JID == "" {
			u.row.JID = jid
		}
		u.publish = true
		return nil
	})
	if err != nil || res.skipped {
		return Step{Skipped: true}, false, err
	}
	s.accountLog(p.AccountID).Info().Msg("phone number repaired by the phone number sweep")
	step = s.stepOf(res)
	if res.row.Status == StatusWarming {
		next, err := s.finishWarming(ctx, SessionRef{AccountID: p.AccountID, SessionID: res.row.SessionID})
		return step.then(next), true, err
	}
	return step, true, nil
}

// ActiveAccountIDs lists the ACTIVE accounts.
func (s *Service) ActiveAccountIDs(ctx context.Context) ([]string, error) {
	rows, err := s.accounts.inStatus(ctx, s.db.DB, StatusActive)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	return ids, nil
}

// RecordActivity stamps last_active_at on the given accounts, whose
// sessions were seen connected now; restore uses it to tell idle sessions
// from live ones.
func (s *Service) RecordActivity(ctx context.Context, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	return s.accounts.touch(ctx, s.db.DB, ids, s.now())
}
