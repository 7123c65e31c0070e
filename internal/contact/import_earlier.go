package contact

import (
	"context"
	"fmt"
	"strconv"

	"github.com/uptrace/bun"
)

// A row whose number an earlier batch of the same import wrote is a
// duplicate ("duplicate of an earlier row of the file"). The run keeps the
// numbers its import has written in memory, so that a batch finds these
// rows without a query: a run that resumes the import (after a crash, a
// snooze, another instance) first loads the numbers of the batches
// committed before it from the import's provenance rows, the same rows the
// check read from the database before, so the outcome does not depend on
// where runs start and stop. An E.164 number is held as an integer (at most
// 15 digits): about 20 bytes a number, 20 MB for a million.

// earlierNumbers is the set of numbers the import's committed (or being
// committed) batches wrote.
type earlierNumbers struct {
	nums  map[uint64]struct{}
	other map[string]struct{} // a number that does not read as digits (never, for E.164)
}

func newEarlierNumbers() *earlierNumbers {
	return &earlierNumbers{nums: map[uint64]struct{}{}, other: map[string]struct{}{}}
}

func e164Key(phone string) (uint64, bool) {
	if len(phone) < 2 || len(phone) > 16 || phone[0] != '+' {
		return 0, false
	}
	n, err := strconv.ParseUint(phone[1:], 10, 64)
	return n, err == nil
}

func (e *earlierNumbers) has(phone string) bool {
	if phone == "" {
		return false
	}
	if k, ok := e164Key(phone); ok {
		_, found := e.nums[k]
		return found
	}
	_, found := e.other[phone]
	return found
}

func (e *earlierNumbers) add(phone string) {
	if phone == "" {
		return
	}
	if k, ok := e164Key(phone); ok {
		e.nums[k] = struct{}{}
		return
	}
	e.other[phone] = struct{}{}
}

// loadEarlierNumbers reads the numbers of the contacts the import's
// committed batches gave (its provenance rows).
func (im *Importer) loadEarlierNumbers(ctx context.Context, db bun.IDB, importID string) (*earlierNumbers, error) {
	e := newEarlierNumbers()
	rows, err := db.QueryContext(ctx, `SELECT c.phone_e164 FROM contact_sources AS cs JOIN mkt_wap_contacts AS c ON c.id = cs.contact_id
		WHERE cs.import_id = ? AND cs.kind = ? AND cs.account_id = '' AND cs.group_jid = '' AND c.phone_e164 IS NOT NULL`,
		importID, string(SourceImport))
	if err != nil {
		return nil, fmt.Errorf("contact: load the import's earlier numbers: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			return nil, fmt.Errorf("contact: load the import's earlier numbers: %w", err)
		}
		e.add(p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("contact: load the import's earlier numbers: %w", err)
	}
	return e, nil
}
