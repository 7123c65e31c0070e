package whatsapp

import (
	"context"
	"errors"

	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"google.golang.org/protobuf/proto"
)

// SendTextForTest sends text from accountID's live session with whatsmeow
// and hands a refusal to afterSendRefused, as the send path does; it
// returns WhatsApp's error code (0: sent).
func SendTextForTest(ctx context.Context, m *Manager, accountID string, to types.JID, text string) (int, error) {
	m.mu.Lock()
	s := m.sessions[accountID]
	m.mu.Unlock()
	if s == nil {
		return 0, errors.New("no session")
	}
	_, err := s.cli.SendMessage(ctx, to, &waE2E.Message{Conversation: proto.String(text)})
	if err == nil {
		return 0, nil
	}
	if code := s.afterSendRefused(err); code != 0 {
		return code, nil
	}
	return 0, err
}
