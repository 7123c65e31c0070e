package message

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/uptrace/bun"

	"wagraph/internal/apperr"
	"wagraph/internal/paging"
)

// Filter selects messages; zero fields do not filter.
type Filter struct {
	AccountID string
	BatchID   string
	Status    Status
}

// ListInput asks for one page of messages, newest first.
type ListInput struct {
	Filter Filter
	First  *int
	After  string
}

// Page is one page of messages.
type Page struct {
	Messages    []*Message
	HasNextPage bool
	TotalCount  int
}

// Cursor is the opaque cursor of a message (or batch) in its list.
func Cursor(id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte("msg:" + id))
}

func parseCursor(c string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err == nil {
		if id, ok := strings.CutPrefix(string(b), "msg:"); ok && id != "" {
			return id, nil
		}
	}
	return "", apperr.Invalid("after", "after is not a cursor from this list",
		"Pass a cursor from a previous page's pageInfo.endCursor, or leave after out to start at the newest.")
}

// List returns a page of messages matching the filter, newest first, with
// how many match in all.
func (s *Service) List(ctx context.Context, in ListInput) (*Page, error) {
	n, err := paging.Size(in.First)
	if err != nil {
		return nil, err
	}
	if in.Filter.Status != "" && !in.Filter.Status.Valid() {
		return nil, apperr.Invalid("filter.status", fmt.Sprintf("%q is not a message status", clip(string(in.Filter.Status))),
			"Use QUEUED, SENDING, SENT, FAILED or CANCELED.")
	}
	filter := func(q *bun.SelectQuery) *bun.SelectQuery {
		if f := in.Filter; f.AccountID != "" {
			q = q.Where("m.account_id = ?", f.AccountID)
		}
		if f := in.Filter; f.BatchID != "" {
			q = q.Where("m.batch_id = ?", f.BatchID)
		}
		if f := in.Filter; f.Status != "" {
			q = q.Where("m.status = ?", string(f.Status))
		}
		return q
	}
	total, err := filter(s.DB.NewSelect().Model((*messageRow)(nil))).Count(ctx)
	if err != nil {
		return nil, fmt.Errorf("message: count: %w", err)
	}
	page := &Page{TotalCount: int(total)}
	var rows []*messageRow
	q := filter(s.DB.NewSelect().Model(&rows)).OrderExpr("m.id DESC").Limit(int64(n) + 1)
	if in.After != "" {
		after, err := parseCursor(in.After)
		if err != nil {
			return nil, err
		}
		q = q.Where("m.id < ?", after)
	}
	if n > 0 {
		if err := q.Scan(ctx); err != nil {
			return nil, fmt.Errorf("message: list: %w", err)
		}
	}
	if len(rows) > n {
		rows, page.HasNextPage = rows[:n], true
	}
	for _, r := range rows {
		page.Messages = append(page.Messages, r.toMessage())
	}
	return page, nil
}
