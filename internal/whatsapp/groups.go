package whatsapp

import (
	"context"
	"errors"
	"fmt"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/types"

	"wagraph/internal/contact"
)

// The Manager reads groups through each account's live client: it
// implements contact.WhatsAppGroups, the port the group features own.
var _ contact.WhatsAppGroups = (*Manager)(nil)

// client returns the account's logged-in, connected client, or
// contact.ErrNotConnected.
func (m *Manager) client(accountID string) (*whatsmeow.Client, error) {
	m.mu.Lock()
	s := m.sessions[accountID]
	m.mu.Unlock()
	if s == nil || !s.cli.IsLoggedIn() || !s.cli.IsConnected() {
		return nil, contact.ErrNotConnected
	}
	return s.cli, nil
}

// JoinedGroups implements contact.WhatsAppGroups with one
// GetJoinedGroups call.
func (m *Manager) JoinedGroups(ctx context.Context, accountID string) ([]contact.WAGroup, error) {
	cli, err := m.client(accountID)
	if err != nil {
		return nil, err
	}
	infos, err := cli.GetJoinedGroups(ctx)
	if err != nil {
		return nil, groupError(err)
	}
	out := make([]contact.WAGroup, 0, len(infos))
	for _, info := range infos {
		out = append(out, waGroup(cli, accountID, info))
	}
	return out, nil
}

// GroupInfo implements contact.WhatsAppGroups with one GetGroupInfo call.
func (m *Manager) GroupInfo(ctx context.Context, accountID, jid string) (*contact.WAGroup, error) {
	cli, err := m.client(accountID)
	if err != nil {
		return nil, err
	}
	parsed, err := types.ParseJID(jid)
	if err != nil || parsed.Server != types.GroupServer {
		return nil, fmt.Errorf("%w: %q is not a group JID", contact.ErrGroupNotFound, jid)
	}
	info, err := cli.GetGroupInfo(ctx, parsed)
	if err != nil {
		return nil, groupError(err)
	}
	g := waGroup(cli, accountID, info)
	return &g, nil
}

// PhonesForLIDs implements contact.WhatsAppGroups from the client's LID
// store (no network call).
func (m *Manager) PhonesForLIDs(ctx context.Context, accountID string, lids []string) (map[string]string, error) {
	m.mu.Lock()
	s := m.sessions[accountID]
	m.mu.Unlock()
	if s == nil || s.cli.Store == nil || s.cli.Store.LIDs == nil {
		return nil, contact.ErrNotConnected
	}
	out := make(map[string]string, len(lids))
	for _, l := range lids {
		lid, err := types.ParseJID(l)
		if err != nil || lid.Server != types.HiddenUserServer {
			continue
		}
		pn, err := s.cli.Store.LIDs.GetPNForLID(ctx, lid)
		if err != nil {
			return out, fmt.Errorf("whatsapp: read the LID store: %w", err)
		}
		if phone := phoneOf(pn); phone != "" {
			out[l] = phone
		}
	}
	return out, nil
}

// groupError maps whatsmeow's group errors to the port's.
func groupError(err error) error {
	var iq *whatsmeow.IQError
	switch {
	case errors.As(err, &iq) && iq.Code == 429:
		return fmt.Errorf("%w: %v", contact.ErrRateLimited, err)
	case errors.Is(err, whatsmeow.ErrGroupNotFound), errors.Is(err, whatsmeow.ErrNotInGroup):
		return fmt.Errorf("%w: %v", contact.ErrGroupNotFound, err)
	case errors.Is(err, whatsmeow.ErrNotConnected), errors.Is(err, whatsmeow.ErrNotLoggedIn):
		return fmt.Errorf("%w: %v", contact.ErrNotConnected, err)
	}
	return fmt.Errorf("whatsapp: group query: %w", err)
}

func waGroup(cli *whatsmeow.Client, accountID string, info *types.GroupInfo) contact.WAGroup {
	own, ownLID := cli.Store.GetJID().ToNonAD(), cli.Store.GetLID().ToNonAD()
	g := contact.WAGroup{Group: contact.Group{
		AccountID: accountID, JID: info.JID.String(), Name: info.Name, Topic: info.Topic,
		ParticipantCount: max(info.ParticipantCount, len(info.Participants)),
		Announce:         info.IsAnnounce, Community: info.IsParent, AddressingMode: string(info.AddressingMode),
	}}
	g.Participants = make([]contact.Participant, 0, len(info.Participants))
	for _, p := range info.Participants {
		g.Participants = append(g.Participants, contact.Participant{
			JID: p.JID.ToNonAD().String(), Phone: phoneOf(p.PhoneNumber), LID: lidOf(p.LID),
			DisplayName: p.DisplayName, Admin: p.IsAdmin, SuperAdmin: p.IsSuperAdmin,
			Self: (!own.IsEmpty() && p.PhoneNumber.ToNonAD() == own) || (!ownLID.IsEmpty() && p.LID.ToNonAD() == ownLID),
		})
	}
	return g
}

// phoneOf is a phone-number JID's number in E.164 ("" for anything else).
func phoneOf(j types.JID) string {
	if j.IsEmpty() || j.Server != types.DefaultUserServer || j.User == "" {
		return ""
	}
	return "+" + j.User
}

func lidOf(j types.JID) string {
	if j.IsEmpty() || j.Server != types.HiddenUserServer || j.User == "" {
		return ""
	}
	return j.User + "@lid"
}
