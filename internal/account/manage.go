package account

import (
	"context"

	"github.com/uptrace/bun"

	"wagraph/internal/apperr"
	"wagraph/internal/paging"
	"wagraph/internal/textrule"
)

// MaxNameLength is the longest account name accepted, in user-perceived
// characters (grapheme clusters).
const MaxNameLength = 100

// CreateInput is what createAccount takes.
type CreateInput struct {
	Name string
}

// UpdateInput is what updateAccount takes; nil fields stay as they are.
type UpdateInput struct {
	ID   string
	Name *string
}

// ListInput selects a page of accounts.
type ListInput struct {
	First *int
	// AfterID starts the page after this account (in creation order).
	AfterID string
	// Statuses keeps only accounts in one of these statuses (all when empty).
	Statuses []Status
	// Search keeps accounts whose name or phone number contains it,
	// ignoring case.
	Search string
}

// AccountPage is one page of accounts.
type AccountPage struct {
	Accounts    []*Account
	HasNextPage bool
	TotalCount  int
}

// HistoryPage is one page of an account's status history, newest first.
type HistoryPage struct {
	Changes     []StatusChange
	HasNextPage bool
	TotalCount  int
}

// accountName is the rule for account names: visible text, at most
// MaxNameLength user-perceived characters, no control or bidi characters.
var accountName = textrule.Label{Field: "name", What: "account name", MaxChars: MaxNameLength, Example: "Sales Berlin 1"}

func validName(name string) (string, error) { return accountName.Check(name) }

// Create adds a PENDING account, with the first history entry.
func (s *Service) Create(ctx context.Context, in CreateInput) (*Account, error) {
	name, err := validName(in.Name)
	if err != nil {
		return nil, err
	}
	now := s.now()
	r := reason(ReasonCreated)
	row := &accountRow{
		ID: newID(), Name: name, Status: StatusPending,
		ReasonCode: string(r.Code), ReasonMessage: r.Message,
		Version: 1, Revision: 1, CreatedAt: now, UpdatedAt: now,
	}
	change := StatusChange{AccountID: row.ID, Version: 1, To: StatusPending, Reason: r, At: now}
	err = s.db.InTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if err := s.accounts.insert(ctx, tx, row); err != nil {
			return err
		}
		return s.history.insert(ctx, tx, change)
	})
	if err != nil {
		return nil, err
	}
	s.afterCommit(ctx, modified{row: row, change: &change})
	return row.toAccount(s.opts.SessionIdleLimit), nil
}

// Update changes an account's name.
func (s *Service) Update(ctx context.Context, in UpdateInput) (*Account, error) {
	var name string
	if in.Name != nil {
		n, err := validName(*in.Name)
		if err != nil {
			return nil, err
		}
		name = n
	}
	res, err := s.modify(ctx, in.ID, func(u *update) error {
		if name != "" && name != u.row.Name {
			u.row.Name = name
			u.publish = true
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res.row.toAccount(s.opts.SessionIdleLimit), nil
}

// Get returns one account; NOT_FOUND when there is none with that id.
func (s *Service) Get(ctx context.Context, id string) (*Account, error) {
	row, err := s.accounts.get(ctx, s.db.DB, id)
	if err != nil {
		return nil, err
	}
	return row.toAccount(s.opts.SessionIdleLimit), nil
}

// List returns a page of accounts in creation order.
func (s *Service) List(ctx context.Context, in ListInput) (*AccountPage, error) {
	n, err := paging.Size(in.First)
	if err != nil {
		return nil, err
	}
	for _, st := range in.Statuses {
		if !st.Valid() {
			return nil, apperr.Invalid("status", "unknown status "+string(st), "Use one of the AccountStatus values.")
		}
	}
	f := listFilter{statuses: in.Statuses, search: in.Search, afterID: in.AfterID, limit: n + 1}
	total, err := s.accounts.count(ctx, s.db.DB, f)
	if err != nil {
		return nil, err
	}
	page := &AccountPage{TotalCount: total}
	rows, err := s.accounts.list(ctx, s.db.DB, f)
	if err != nil {
		return nil, err
	}
	if len(rows) > n {
		rows, page.HasNextPage = rows[:n], true
	}
	for _, r := range rows {
		page.Accounts = append(page.Accounts, r.toAccount(s.opts.SessionIdleLimit))
	}
	return page, nil
}

// History returns a page of an account's status changes, newest first:
// those older than beforeVersion when it is positive.
func (s *Service) History(ctx context.Context, accountID string, first *int, beforeVersion int64) (*HistoryPage, error) {
	n, err := paging.Size(first)
	if err != nil {
		return nil, err
	}
	before := beforeVersion
	row, err := s.accounts.get(ctx, s.db.DB, accountID)
	if err != nil {
		return nil, err
	}
	// Versions run 1..Version without gaps, so the version is the count.
	page := &HistoryPage{TotalCount: int(row.Version)}
	changes, err := s.history.list(ctx, s.db.DB, accountID, before, n+1)
	if err != nil {
		return nil, err
	}
	if len(changes) > n {
		changes, page.HasNextPage = changes[:n], true
	}
	page.Changes = changes
	return page, nil
}

// Delete removes an account's row and history. A last StatusEvent with
// Deleted set tells subscribers. The step (Account is its last state) ends
// its session and unlinks and deletes its device.
func (s *Service) Delete(ctx context.Context, id string) (Step, error) {
	var row *accountRow
	err := s.db.InTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		var err error
		if row, err = s.accounts.lock(ctx, tx, id); err != nil {
			return err
		}
		return s.accounts.delete(ctx, tx, id)
	})
	if err != nil {
		return Step{}, err
	}
	s.accountLog(id).Info().Str("status", string(row.Status)).Msg("account deleted")
	pubCtx := context.WithoutCancel(ctx)
	last := row.toAccount(s.opts.SessionIdleLimit)
	s.publishStatus(pubCtx, StatusEvent{
		StatusChange: StatusChange{AccountID: id, Version: row.Version + 1, From: row.Status, To: row.Status, Reason: row.reason(), At: s.now()},
		Revision:     row.Revision + 1,
		PhoneNumber:  row.PhoneNumber,
		Account:      last,
		Deleted:      true,
	})
	if row.Status.Activating() {
		s.publishQR(pubCtx, QREvent{AccountID: id, Version: row.QRSeq + 1, StatusVersion: row.Version + 1, Status: row.Status, Done: true, Deleted: true})
	}
	return Step{Account: last, DropSession: true, DropJID: row.JID}, nil
}
