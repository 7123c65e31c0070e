package whatsapp

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
	"google.golang.org/protobuf/proto"

	"wagraph/internal/apperr"
	"wagraph/internal/message"
)

var _ message.Sender = (*Manager)(nil)

// ServerError is a message WhatsApp refused with an error code, e.g. 463
// (the reach-out time-lock on new chats) or 479.
type ServerError struct {
	Code int
	Err  error
}

func (e *ServerError) Error() string {
	return fmt.Sprintf("whatsapp: message refused with error %d", e.Code)
}
func (e *ServerError) Unwrap() error   { return e.Err }
func (e *ServerError) ServerCode() int { return e.Code }

// liveClient returns the account's client when it is logged in and
// connected; otherwise ACCOUNT_NOT_ACTIVE.
func (m *Manager) liveClient(accountID string) (*whatsmeow.Client, error) {
	m.mu.Lock()
	s := m.sessions[accountID]
	m.mu.Unlock()
	if s == nil || !s.cli.IsLoggedIn() || !s.cli.IsConnected() {
		return nil, apperr.Newf(apperr.AccountNotActive, "account %s has no live WhatsApp session on this instance", accountID)
	}
	return s.cli, nil
}

// Send implements message.Sender: a text message from the account's live
// session to the number to (E.164), under the WhatsApp message id waID.
func (m *Manager) Send(ctx context.Context, accountID, to, text, waID string) (message.SentResult, error) {
	cli, err := m.liveClient(accountID)
	if err != nil {
		return message.SentResult{}, err
	}
	jid := types.NewJID(strings.TrimPrefix(to, "+"), types.DefaultUserServer)
	resp, err := cli.SendMessage(ctx, jid, &waE2E.Message{Conversation: proto.String(text)}, whatsmeow.SendRequestExtra{ID: types.MessageID(waID)})
	if err != nil {
		return message.SentResult{}, sendError(accountID, err)
	}
	return message.SentResult{At: resp.Timestamp}, nil
}

// sendError maps whatsmeow's send errors: a server error code to
// ServerError, a client that is not connected (any more) to
// ACCOUNT_NOT_ACTIVE; the rest stay as they are (no answer: transient).
func sendError(accountID string, err error) error {
	if errors.Is(err, whatsmeow.ErrServerReturnedError) {
		// whatsmeow says "server returned error 463".
		f := strings.Fields(err.Error())
		if code, perr := strconv.Atoi(f[len(f)-1]); perr == nil {
			return &ServerError{Code: code, Err: err}
		}
	}
	if errors.Is(err, whatsmeow.ErrNotConnected) || errors.Is(err, whatsmeow.ErrNotLoggedIn) {
		return apperr.Wrap(err, apperr.AccountNotActive, "account "+accountID+" lost its WhatsApp connection")
	}
	return fmt.Errorf("whatsapp: send: %w", err)
}

// IsOnWhatsApp implements message.Sender: for each number (E.164), whether
// it has a WhatsApp account, asked in one query through the account's live
// session. (The message service caches the answers and paces the queries.)
func (m *Manager) IsOnWhatsApp(ctx context.Context, accountID string, phones []string) (map[string]bool, error) {
	cli, err := m.liveClient(accountID)
	if err != nil {
		return nil, err
	}
	byDigits := make(map[string]string, len(phones))
	for _, p := range phones {
		byDigits[strings.TrimPrefix(p, "+")] = p
	}
	resp, err := cli.IsOnWhatsApp(ctx, phones)
	if err != nil {
		return nil, sendError(accountID, err)
	}
	out := make(map[string]bool, len(phones))
	for _, r := range resp {
		if p, ok := byDigits[strings.TrimPrefix(r.Query, "+")]; ok {
			out[p] = r.IsIn
		}
	}
	return out, nil
}

// InboundSink hears who wrote to an account (internal/message records them
// as known chats, so that sends to them are not new chats).
type InboundSink interface {
	RecordInbound(ctx context.Context, accountID, peer string, at time.Time) error
}

// handleInbound records the sender of an incoming direct message.
func (s *Session) handleInbound(e *events.Message) {
	sink := s.m.opts.Inbound
	if sink == nil || e.Info.IsFromMe || e.Info.IsGroup || e.Info.Chat.IsBroadcastList() {
		return
	}
	peer := peerOf(e.Info.MessageSource)
	if peer == "" {
		return
	}
	ctx, cancel := context.WithTimeout(s.ctx, 5*time.Second)
	defer cancel()
	if err := sink.RecordInbound(ctx, s.ref.AccountID, peer, e.Info.Timestamp); err != nil {
		s.log.Warn().Err(err).Msg("could not record who wrote to the account")
	}
}

// peerOf names a direct message's sender: its number in E.164 when known
// (from the sender or, for a LID-addressed message, its alternative
// address), else its JID.
func peerOf(src types.MessageSource) string {
	for _, j := range []types.JID{src.Sender, src.SenderAlt} {
		if j.Server == types.DefaultUserServer && j.User != "" {
			return "+" + j.User
		}
	}
	if src.Sender.IsEmpty() {
		return ""
	}
	return src.Sender.ToNonAD().String()
}
