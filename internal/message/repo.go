package message

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/uptrace/bun"

	"wagraph/internal/apperr"
	"wagraph/internal/store"
)

// messageRow is a message as stored in messages.
type messageRow struct {
	bun.BaseModel `bun:"table:messages,alias:m"`

	ID              string    `bun:"id,pk"`
	AccountID       string    `bun:"account_id,notnull"`
	BatchID         string    `bun:"batch_id,nullzero"`
	Recipient       string    `bun:"recipient,notnull"`
	ContactID       string    `bun:"contact_id,nullzero"`
	Body            string    `bun:"body,notnull"`
	Status          Status    `bun:"status,notnull"`
	WAMessageID     string    `bun:"wa_message_id,nullzero"`
	SentAt          time.Time `bun:"sent_at,nullzero"`
	ErrorCode       string    `bun:"error_code,nullzero"`
	ErrorMessage    string    `bun:"error_message,nullzero"`
	ErrorSuggestion string    `bun:"error_suggestion,nullzero"`
	WaitCode        string    `bun:"wait_code,nullzero"`
	WaitUntil       time.Time `bun:"wait_until,nullzero"`
	IdempotencyKey  string    `bun:"idempotency_key,nullzero"`
	Attempts        int       `bun:"attempts,notnull"`
	CreatedAt       time.Time `bun:"created_at,notnull"`
	UpdatedAt       time.Time `bun:"updated_at,notnull"`
}

func (r *messageRow) toMessage() *Message {
	m := &Message{
		ID: r.ID, AccountID: r.AccountID, BatchID: r.BatchID, To: r.Recipient, ContactID: r.ContactID,
		Text: r.Body, Status: r.Status, WAMessageID: r.WAMessageID, SentAt: r.SentAt,
		IdempotencyKey: r.IdempotencyKey, Attempts: r.Attempts, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
	}
	if r.Status == Failed {
		m.Error = &Failure{Code: r.ErrorCode, Message: r.ErrorMessage, Suggestion: r.ErrorSuggestion}
	}
	if r.Status == Queued && r.WaitCode != "" {
		m.Wait = &Wait{Code: r.WaitCode, Until: r.WaitUntil}
	}
	return m
}

// batchRow is a batch as stored in message_batches.
type batchRow struct {
	bun.BaseModel `bun:"table:message_batches,alias:b"`

	ID              string    `bun:"id,pk"`
	AccountID       string    `bun:"account_id,notnull"`
	Template        string    `bun:"template,notnull"`
	StartAt         time.Time `bun:"start_at,notnull"`
	JitterSeconds   int       `bun:"jitter_seconds,notnull"`
	Total           int       `bun:"total,notnull"`
	SkippedOptedOut int       `bun:"skipped_opted_out,notnull"`
	SkippedNoPhone  int       `bun:"skipped_no_phone,notnull"`
	Sent            int       `bun:"sent,notnull"`
	Failed          int       `bun:"failed,notnull"`
	Canceled        int       `bun:"canceled,notnull"`
	Version         int64     `bun:"version,notnull"`
	CreatedAt       time.Time `bun:"created_at,notnull"`
	CanceledAt      time.Time `bun:"canceled_at,nullzero"`
}

// chatRow is a known chat: a peer who wrote to the account.
type chatRow struct {
	bun.BaseModel `bun:"table:account_chats"`

	AccountID      string    `bun:"account_id,pk"`
	Peer           string    `bun:"peer,pk"`
	FirstInboundAt time.Time `bun:"first_inbound_at,notnull"`
	LastInboundAt  time.Time `bun:"last_inbound_at,notnull"`
}

func messageNotFound(id string) error {
	return apperr.Newf(apperr.NotFound, "no message with id %q", id).
		WithSuggestion("List the account's messages with the messages query to find the one you meant.")
}

func batchNotFound(id string) error {
	return apperr.Newf(apperr.NotFound, "no batch with id %q", id).
		WithSuggestion("List the account's batches with the batches query to find the one you meant.")
}

func getMessage(ctx context.Context, db *store.DB, id string) (*messageRow, error) {
	r := new(messageRow)
	err := db.Get(ctx, db, r, "SELECT m.* FROM messages AS m WHERE m.id = $1", id) // every send: a fixed text
	if errors.Is(err, sql.ErrNoRows) {
		return nil, messageNotFound(id)
	}
	if err != nil {
		return nil, fmt.Errorf("message: get %s: %w", id, err)
	}
	return r, nil
}

func getBatch(ctx context.Context, db bun.IDB, id string) (*batchRow, error) {
	r := new(batchRow)
	err := db.NewSelect().Model(r).Where("b.id = ?", id).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, batchNotFound(id)
	}
	if err != nil {
		return nil, fmt.Errorf("message: get batch %s: %w", id, err)
	}
	return r, nil
}

func accountExists(ctx context.Context, db bun.IDB, accountID string) error {
	ok, err := db.NewSelect().Table("accounts").Where("id = ?", accountID).Exists(ctx)
	if err != nil {
		return fmt.Errorf("message: look up account: %w", err)
	}
	if !ok {
		return apperr.Newf(apperr.NotFound, "account %q not found", accountID)
	}
	return nil
}

var errNoRows = sql.ErrNoRows
