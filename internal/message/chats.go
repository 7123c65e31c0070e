package message

import (
	"context"
	"fmt"
	"time"
)

// RecordInbound notes that peer (a number in E.164, or a JID when WhatsApp
// gave none) wrote to the account at at: sends to peer are no longer new
// chats. internal/whatsapp calls it for every incoming direct message.
func (s *Service) RecordInbound(ctx context.Context, accountID, peer string, at time.Time) error {
	at = at.UTC().Truncate(time.Microsecond)
	_, err := s.DB.NewInsert().Model(&chatRow{AccountID: accountID, Peer: peer, FirstInboundAt: at, LastInboundAt: at}).
		On("CONFLICT (account_id, peer) DO UPDATE").
		Set("last_inbound_at = EXCLUDED.last_inbound_at").
		Exec(ctx)
	if err != nil {
		return fmt.Errorf("message: record inbound chat: %w", err)
	}
	return nil
}

// isNewChat reports whether peer never wrote to the account.
func (s *Service) isNewChat(ctx context.Context, accountID, peer string) (bool, error) {
	var known bool
	err := s.DB.Get(ctx, s.DB, &known, "SELECT EXISTS (SELECT 1 FROM account_chats WHERE account_id = $1 AND peer = $2)", accountID, peer)
	if err != nil {
		return false, fmt.Errorf("message: look up chat: %w", err)
	}
	return !known, nil
}
