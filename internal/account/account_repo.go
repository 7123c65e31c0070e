package account

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"wagraph/internal/apperr"
)

// accountRow is an account as stored in the accounts table.
type accountRow struct {
	bun.BaseModel `bun:"table:accounts"`

	ID                  string    `bun:"id,pk"`
	Name                string    `bun:"name,notnull"`
	Status              Status    `bun:"status,notnull"`
	ReasonCode          string    `bun:"reason_code,notnull"`
	ReasonMessage       string    `bun:"reason_message,notnull"`
	Version             int64     `bun:"version,notnull"`
	Revision            int64     `bun:"revision,notnull"`
	PhoneNumber         string    `bun:"phone_number,nullzero"`
	JID                 string    `bun:"jid,nullzero"`
	LID                 string    `bun:"lid,nullzero"`
	PushName            string    `bun:"push_name,nullzero"`
	Platform            string    `bun:"platform,nullzero"`
	BusinessName        string    `bun:"business_name,nullzero"`
	SessionID           string    `bun:"session_id,nullzero"`
	ActivationMethod    Method    `bun:"activation_method,nullzero"`
	ActivationStartedAt time.Time `bun:"activation_started_at,nullzero"`
	ActivationExpiresAt time.Time `bun:"activation_expires_at,nullzero"`
	PairingPhone        string    `bun:"pairing_phone,nullzero"`
	PairingCode         string    `bun:"pairing_code,nullzero"`
	QRCode              string    `bun:"qr_code,nullzero"`
	QRExpiresAt         time.Time `bun:"qr_expires_at,nullzero"`
	QRSeq               int64     `bun:"qr_seq,notnull"`
	BannedUntil         time.Time `bun:"banned_until,nullzero"`
	ReconnectAttempts   int       `bun:"reconnect_attempts,notnull"`
	LastConnectedAt     time.Time `bun:"last_connected_at,nullzero"`
	LastActiveAt        time.Time `bun:"last_active_at,nullzero"`
	CreatedAt           time.Time `bun:"created_at,notnull"`
	UpdatedAt           time.Time `bun:"updated_at,notnull"`
}

func (r *accountRow) reason() Reason { return NewReason(ReasonCode(r.ReasonCode), r.ReasonMessage) }

// clearDevice forgets everything learnt from a linked device.
func (r *accountRow) clearDevice() {
	r.JID, r.LID, r.PushName, r.Platform, r.BusinessName = "", "", "", "", ""
}

// clearActivation forgets the activation in progress and its codes.
func (r *accountRow) clearActivation() {
	r.ActivationMethod, r.ActivationStartedAt, r.ActivationExpiresAt = "", time.Time{}, time.Time{}
	r.PairingPhone = ""
	r.clearCodes()
}

func (r *accountRow) clearCodes() {
	r.PairingCode, r.QRCode, r.QRExpiresAt = "", "", time.Time{}
}

// setDevice records what a session reports about its device, keeping known
// values where the report has none.
func (r *accountRow) setDevice(d Device) {
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&r.JID, d.JID)
	set(&r.LID, d.LID)
	set(&r.PhoneNumber, d.PhoneNumber)
	set(&r.PushName, d.PushName)
	set(&r.Platform, d.Platform)
	set(&r.BusinessName, d.BusinessName)
}

// toAccount maps a row to the domain type; idleLimit computes SessionExpiresAt.
func (r *accountRow) toAccount(idleLimit time.Duration) *Account {
	a := &Account{
		ID:              r.ID,
		Name:            r.Name,
		Status:          r.Status,
		Reason:          r.reason(),
		Version:         r.Version,
		Revision:        r.Revision,
		PhoneNumber:     r.PhoneNumber,
		JID:             r.JID,
		LID:             r.LID,
		PushName:        r.PushName,
		Platform:        r.Platform,
		BusinessName:    r.BusinessName,
		BannedUntil:     r.BannedUntil,
		LastConnectedAt: r.LastConnectedAt,
		LastActiveAt:    r.LastActiveAt,
		CreatedAt:       r.CreatedAt,
		UpdatedAt:       r.UpdatedAt,
	}
	if r.JID != "" && !r.LastActiveAt.IsZero() {
		a.SessionExpiresAt = r.LastActiveAt.Add(idleLimit)
	}
	if r.Status.Activating() && r.ActivationMethod != "" {
		act := &Activation{
			Method:      r.ActivationMethod,
			StartedAt:   r.ActivationStartedAt,
			ExpiresAt:   r.ActivationExpiresAt,
			PairingCode: r.PairingCode,
			PhoneNumber: r.PairingPhone,
		}
		if r.QRCode != "" {
			act.QR = &QR{Code: r.QRCode, ExpiresAt: r.QRExpiresAt}
		}
		a.Activation = act
	}
	return a
}

// accountRepo reads and writes the accounts table. Its methods take bun.IDB so
// they work inside and outside a transaction.
type accountRepo struct {
	// lockRows adds FOR UPDATE to lock reads (Postgres; SQLite serialises
	// write transactions anyway).
	lockRows bool
}

func notFound(id string) error {
	return apperr.Newf(apperr.NotFound, "no account with id %q", id)
}

func (accountRepo) insert(ctx context.Context, db bun.IDB, r *accountRow) error {
	if _, err := db.NewInsert().Model(r).Exec(ctx); err != nil {
		return fmt.Errorf("account: insert %s: %w", r.ID, err)
	}
	return nil
}

func (accountRepo) get(ctx context.Context, db bun.IDB, id string) (*accountRow, error) {
	r := new(accountRow)
	err := db.NewSelect().Model(r).Where("id = ?", id).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound(id)
	}
	if err != nil {
		return nil, fmt.Errorf("account: get %s: %w", id, err)
	}
	return r, nil
}

// lock reads the row for update inside a transaction.
func (ar accountRepo) lock(ctx context.Context, tx bun.IDB, id string) (*accountRow, error) {
	r := new(accountRow)
	q := tx.NewSelect().Model(r).Where("id = ?", id)
	if ar.lockRows {
		q = q.For("UPDATE")
	}
	err := q.Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound(id)
	}
	if err != nil {
		return nil, fmt.Errorf("account: lock %s: %w", id, err)
	}
	return r, nil
}

// update writes the row. With epoch > 0 the write is fenced: it happens only
// while the account's lease still has that epoch, else ErrStaleEpoch.
func (accountRepo) update(ctx context.Context, db bun.IDB, r *accountRow, epoch int64) error {
	q := db.NewUpdate().Model(r).WherePK()
	if epoch > 0 {
		q = q.Where("EXISTS (SELECT 1 FROM account_leases AS l WHERE l.account_id = ? AND l.epoch = ?)", r.ID, epoch)
	}
	res, err := q.Exec(ctx)
	if err != nil {
		return fmt.Errorf("account: update %s: %w", r.ID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		if epoch > 0 {
			return fmt.Errorf("account: update %s under epoch %d: %w", r.ID, epoch, ErrStaleEpoch)
		}
		return notFound(r.ID)
	}
	return nil
}

// touch records that the given accounts' sessions were alive at t.
func (accountRepo) touch(ctx context.Context, db bun.IDB, ids []string, t time.Time) error {
	_, err := db.NewUpdate().Model((*accountRow)(nil)).
		Set("last_active_at = ?", t).
		Where("id IN (?)", bun.In(ids)).
		Exec(ctx)
	if err != nil {
		return fmt.Errorf("account: record activity: %w", err)
	}
	return nil
}

func (accountRepo) delete(ctx context.Context, db bun.IDB, id string) error {
	if _, err := db.NewDelete().Model((*accountRow)(nil)).Where("id = ?", id).Exec(ctx); err != nil {
		return fmt.Errorf("account: delete %s: %w", id, err)
	}
	return nil
}

// listFilter selects accounts for list.
type listFilter struct {
	statuses []Status
	search   string // substring of name or phone number, case-insensitive
	afterID  string
	limit    int
}

func (f listFilter) apply(q *bun.SelectQuery) *bun.SelectQuery {
	if len(f.statuses) > 0 {
		q = q.Where("status IN (?)", bun.In(f.statuses))
	}
	if s := strings.TrimSpace(f.search); s != "" {
		pattern := "%" + escapeLike(strings.ToLower(s)) + "%"
		q = q.WhereGroup(" AND ", func(q *bun.SelectQuery) *bun.SelectQuery {
			return q.Where(`LOWER(name) LIKE ? ESCAPE '\'`, pattern).
				WhereOr(`COALESCE(phone_number, '') LIKE ? ESCAPE '\'`, pattern)
		})
	}
	return q
}

// list returns accounts in id order (ids are time-ordered UUIDv7, so this is
// creation order), after afterID, at most limit of them.
func (accountRepo) list(ctx context.Context, db bun.IDB, f listFilter) ([]*accountRow, error) {
	var rows []*accountRow
	q := f.apply(db.NewSelect().Model(&rows))
	if f.afterID != "" {
		q = q.Where("id > ?", f.afterID)
	}
	q = q.OrderExpr("id ASC")
	if f.limit > 0 {
		q = q.Limit(int64(f.limit))
	}
	if err := q.Scan(ctx); err != nil {
		return nil, fmt.Errorf("account: list: %w", err)
	}
	return rows, nil
}

func (accountRepo) count(ctx context.Context, db bun.IDB, f listFilter) (int, error) {
	n, err := f.apply(db.NewSelect().Model((*accountRow)(nil))).Count(ctx)
	if err != nil {
		return 0, fmt.Errorf("account: count: %w", err)
	}
	return int(n), nil
}

// inStatus returns every account in one of statuses, for the sweeps and restore.
func (ar accountRepo) inStatus(ctx context.Context, db bun.IDB, statuses ...Status) ([]*accountRow, error) {
	return ar.list(ctx, db, listFilter{statuses: statuses})
}

func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}
