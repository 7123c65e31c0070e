package whatsapp

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/uptrace/bun"
	wastore "go.mau.fi/whatsmeow/store"
	"go.mau.fi/whatsmeow/types"

	"wagraph/internal/store"
)

// whatsmeow's own LID store (sqlstore.CachedLIDMap) writes a batch of
// mappings with two statements per mapping (a DELETE and an upsert) in one
// transaction. One GetJoinedGroups answer of an account in 500 groups of
// 1,000 carries about 400,000 mappings: 800,000 round trips, minutes on
// Postgres, all inside the call. LIDMap keeps the same table
// (whatsmeow_lid_map), the same results and the same kind of cache, and
// writes a batch with three statements per lidChunk mappings: one SELECT
// of the rows the chunk touches, one DELETE of those it replaces, one
// multi-row INSERT of the new ones.

// lidChunk bounds the mappings of one round of statements (two bound
// values each: far below SQLite's limit on bound variables).
const lidChunk = 1000

// LIDMap is the devices' LID ↔ phone-number store (whatsmeow's
// store.LIDStore) over whatsmeow_lid_map, shared by every device of the
// database like whatsmeow's, with batched writes. Set it as
// Options.LIDMap; without it the devices keep whatsmeow's.
type LIDMap struct {
	db *store.DB

	mu      sync.RWMutex
	lidToPN map[string]string // LID user → phone user; "" caches a miss
	pnToLID map[string]string // the reverse
	// gen counts the writes (under mu). A lookup reads the table without
	// the lock, so the sends of many accounts at once do not wait for each
	// other's reads, and caches what it read only when no write came in
	// between (it could be older than the write).
	gen uint64
}

var _ wastore.LIDStore = (*LIDMap)(nil)

// NewLIDMap returns the LID store on db, whose whatsmeow tables
// OpenDeviceStore has created.
func NewLIDMap(db *store.DB) *LIDMap {
	return &LIDMap{db: db, lidToPN: map[string]string{}, pnToLID: map[string]string{}}
}

// lidPair is one mapping by user part (no server, no device).
type lidPair struct{ lid, pn string }

// GetPNForLID implements wastore.LIDStore.
func (l *LIDMap) GetPNForLID(ctx context.Context, lid types.JID) (types.JID, error) {
	if lid.Server != types.HiddenUserServer {
		return types.JID{}, fmt.Errorf("invalid GetPNForLID call with non-LID JID %s", lid)
	}
	return l.lookup(ctx, lid, types.DefaultUserServer, "SELECT pn FROM whatsmeow_lid_map WHERE lid = $1", l.lidToPN, l.pnToLID)
}

// GetLIDForPN implements wastore.LIDStore.
func (l *LIDMap) GetLIDForPN(ctx context.Context, pn types.JID) (types.JID, error) {
	if pn.Server != types.DefaultUserServer {
		return types.JID{}, fmt.Errorf("invalid GetLIDForPN call with non-PN JID %s", pn)
	}
	return l.lookup(ctx, pn, types.HiddenUserServer, "SELECT lid FROM whatsmeow_lid_map WHERE pn = $1", l.pnToLID, l.lidToPN)
}

// lookup answers from the cache, else from the table (caching the answer,
// a miss too), keeping the source's device as whatsmeow does.
func (l *LIDMap) lookup(ctx context.Context, source types.JID, server, query string, forward, reverse map[string]string) (types.JID, error) {
	l.mu.RLock()
	target, ok := forward[source.User]
	gen := l.gen
	l.mu.RUnlock()
	if !ok {
		var found []string
		if err := l.db.Select(ctx, l.db, &found, query, source.User); err != nil {
			return types.JID{}, fmt.Errorf("whatsapp: read the LID map: %w", err)
		}
		target = ""
		if len(found) > 0 {
			target = found[0]
		}
		l.mu.Lock()
		if l.gen == gen {
			if target != "" {
				reverse[target] = source.User
			}
			forward[source.User] = target
		}
		l.mu.Unlock()
	}
	if target == "" {
		return types.JID{}, nil
	}
	return types.JID{User: target, Device: source.Device, Server: server}, nil
}

// GetManyLIDsForPNs implements wastore.LIDStore: numbers without a known
// LID are left out. Like whatsmeow's, an answer from the cache keeps the
// number's device and one from the table does not. Like whatsmeow's, a
// number without a LID is not cached: the table is asked again next time,
// and a mapping written meanwhile by another path (another instance,
// whatsmeow's container) is found. (Caching the misses was tried: the
// console's batch test then stalled when the machine was loaded.)
func (l *LIDMap) GetManyLIDsForPNs(ctx context.Context, pns []types.JID) (map[types.JID]types.JID, error) {
	if len(pns) == 0 {
		return nil, nil
	}
	result := make(map[types.JID]types.JID, len(pns))
	missing := map[string][]types.JID{}
	var users []string
	l.mu.RLock()
	for _, pn := range pns {
		if pn.Server != types.DefaultUserServer {
			continue
		}
		if lid, ok := l.pnToLID[pn.User]; ok && lid != "" {
			result[pn] = types.JID{User: lid, Device: pn.Device, Server: types.HiddenUserServer}
		} else if !ok {
			if len(missing[pn.User]) == 0 {
				users = append(users, pn.User)
			}
			missing[pn.User] = append(missing[pn.User], pn)
		}
	}
	gen := l.gen
	l.mu.RUnlock()
	if len(users) == 0 {
		return result, nil
	}
	var found []lidPair
	if len(users) <= smallLookup {
		rows, err := l.rowsForFew(ctx, users)
		if err != nil {
			return nil, err
		}
		found = rows
	}
	for start := 0; len(users) > smallLookup && start < len(users); start += lidChunk {
		rows, err := l.rowsFor(ctx, l.db, nil, users[start:min(start+lidChunk, len(users))])
		if err != nil {
			return nil, err
		}
		found = append(found, rows...)
	}
	l.mu.Lock()
	if l.gen == gen {
		for _, r := range found {
			l.lidToPN[r.lid], l.pnToLID[r.pn] = r.pn, r.lid
		}
	}
	l.mu.Unlock()
	for _, r := range found {
		for _, pn := range missing[r.pn] {
			result[pn] = types.JID{User: r.lid, Server: types.HiddenUserServer}
		}
	}
	return result, nil
}

// PutLIDMapping implements wastore.LIDStore.
func (l *LIDMap) PutLIDMapping(ctx context.Context, lid, pn types.JID) error {
	if lid.Server != types.HiddenUserServer || pn.Server != types.DefaultUserServer {
		return fmt.Errorf("invalid PutLIDMapping call %s/%s", lid, pn)
	}
	_, err := l.put(ctx, []wastore.LIDMapping{{LID: lid, PN: pn}})
	return err
}

// PutManyLIDMappings implements wastore.LIDStore.
func (l *LIDMap) PutManyLIDMappings(ctx context.Context, mappings []wastore.LIDMapping) error {
	_, err := l.put(ctx, mappings)
	return err
}

// put stores the mappings as whatsmeow would one after the other (a
// mapping replaces any other of its LID and of its number; a repeated one
// counts where it came first; invalid ones are ignored) and returns those
// the table did not hold before. Each chunk is its own transaction: a
// failure keeps the chunks before it.
func (l *LIDMap) put(ctx context.Context, mappings []wastore.LIDMapping) ([]lidPair, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	valid := make([]lidPair, 0, len(mappings))
	uses := make(map[string]int, 2*len(mappings)) // LIDs and numbers (they never look alike)
	seen := make(map[lidPair]bool, len(mappings))
	for _, m := range mappings {
		if m.LID.Server != types.HiddenUserServer || m.PN.Server != types.DefaultUserServer || m.LID.User == "" || m.PN.User == "" {
			continue
		}
		p := lidPair{lid: m.LID.User, pn: m.PN.User}
		if seen[p] {
			continue // as whatsmeow: a repeated mapping counts where it came first
		}
		seen[p] = true
		valid = append(valid, p)
		uses["l"+m.LID.User]++
		uses["p"+m.PN.User]++
	}
	pairs := valid[:0]
	for _, p := range valid {
		// Held already, and no other mapping of the batch moves it.
		if l.pnToLID[p.pn] == p.lid && l.lidToPN[p.lid] == p.pn && uses["l"+p.lid] == 1 && uses["p"+p.pn] == 1 {
			continue
		}
		pairs = append(pairs, p)
	}
	var learned []lidPair
	for start := 0; start < len(pairs); start += lidChunk {
		added, err := l.putChunk(ctx, pairs[start:min(start+lidChunk, len(pairs))])
		if err != nil {
			return learned, err
		}
		learned = append(learned, added...)
	}
	return learned, nil
}

// putChunk writes one chunk: it reads the rows the chunk touches, plays
// the chunk on them in memory, and writes the difference.
func (l *LIDMap) putChunk(ctx context.Context, chunk []lidPair) ([]lidPair, error) {
	lids := make([]string, len(chunk))
	pns := make([]string, len(chunk))
	for i, p := range chunk {
		lids[i], pns[i] = p.lid, p.pn
	}
	var added, gone []lidPair
	var final map[string]string // lid → pn of the rows the chunk touched, after it
	err := l.db.InTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		before, err := l.rowsFor(ctx, tx, lids, pns)
		if err != nil {
			return err
		}
		had := make(map[string]string, len(before)) // lid → pn
		lidTo := make(map[string]string, len(before)+len(chunk))
		pnTo := make(map[string]string, len(before)+len(chunk))
		for _, r := range before {
			had[r.lid], lidTo[r.lid], pnTo[r.pn] = r.pn, r.pn, r.lid
		}
		for _, p := range chunk { // whatsmeow's order: the last word wins
			if old, ok := pnTo[p.pn]; ok && old != p.lid {
				delete(lidTo, old)
			}
			if old, ok := lidTo[p.lid]; ok && old != p.pn {
				delete(pnTo, old)
			}
			lidTo[p.lid], pnTo[p.pn] = p.pn, p.lid
		}
		added, gone, final = added[:0], gone[:0], lidTo
		var drop []string
		for lid, pn := range had {
			if lidTo[lid] != pn {
				drop = append(drop, lid)
				gone = append(gone, lidPair{lid: lid, pn: pn})
			}
		}
		for lid, pn := range lidTo {
			if had[lid] != pn {
				added = append(added, lidPair{lid: lid, pn: pn})
			}
		}
		if len(drop) > 0 {
			if _, err := tx.NewRaw("DELETE FROM whatsmeow_lid_map WHERE lid IN (?)", bun.In(drop)).Exec(ctx); err != nil {
				return fmt.Errorf("whatsapp: replace LID mappings: %w", err)
			}
		}
		if len(added) == 0 {
			return nil
		}
		values := make([]any, 0, 2*len(added))
		for _, p := range added {
			values = append(values, p.lid, p.pn)
		}
		_, err = tx.NewRaw("INSERT INTO whatsmeow_lid_map (lid, pn) VALUES "+placeholders(len(added))+
			" ON CONFLICT (lid) DO UPDATE SET pn = excluded.pn", values...).Exec(ctx)
		if err != nil {
			return fmt.Errorf("whatsapp: store LID mappings: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	// The cache now says what the table holds for what the chunk touched.
	for _, p := range gone {
		if l.lidToPN[p.lid] == p.pn {
			delete(l.lidToPN, p.lid)
		}
		if l.pnToLID[p.pn] == p.lid {
			delete(l.pnToLID, p.pn)
		}
	}
	for lid, pn := range final {
		l.lidToPN[lid], l.pnToLID[pn] = pn, lid
	}
	l.gen++
	return added, nil
}

// rowsFor reads the rows with one of the LIDs or one of the numbers.
func (l *LIDMap) rowsFor(ctx context.Context, db bun.IDB, lids, pns []string) ([]lidPair, error) {
	var rows []lidRow
	q := "SELECT lid, pn FROM whatsmeow_lid_map WHERE "
	var args []any
	switch {
	case len(lids) > 0 && len(pns) > 0:
		q, args = q+"lid IN (?) OR pn IN (?)", []any{bun.In(lids), bun.In(pns)}
	case len(lids) > 0:
		q, args = q+"lid IN (?)", []any{bun.In(lids)}
	default:
		q, args = q+"pn IN (?)", []any{bun.In(pns)}
	}
	if err := db.NewRaw(q, args...).Scan(ctx, &rows); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("whatsapp: read the LID map: %w", err)
	}
	return pairsOf(rows), nil
}

// smallLookup is the most numbers rowsForFew looks up: a send asks for
// the recipient's few devices.
const smallLookup = 8

// rowsForFew reads the rows of a few numbers with the numbers as the
// query's arguments, so the statement is prepared once for each count
// (store.DB.Get; a send asks for one to three numbers).
func (l *LIDMap) rowsForFew(ctx context.Context, pns []string) ([]lidPair, error) {
	q := "SELECT lid, pn FROM whatsmeow_lid_map WHERE pn IN ("
	args := make([]any, len(pns))
	for i, pn := range pns {
		if i > 0 {
			q += ", "
		}
		q += "$" + strconv.Itoa(i+1)
		args[i] = pn
	}
	var rows []lidRow
	if err := l.db.Select(ctx, l.db, &rows, q+")", args...); err != nil {
		return nil, fmt.Errorf("whatsapp: read the LID map: %w", err)
	}
	return pairsOf(rows), nil
}

// lidRow is a row of whatsmeow_lid_map.
type lidRow struct {
	LID string `bun:"lid"`
	PN  string `bun:"pn"`
}

func pairsOf(rows []lidRow) []lidPair {
	out := make([]lidPair, len(rows))
	for i, r := range rows {
		out[i] = lidPair{lid: r.LID, pn: r.PN}
	}
	return out
}

// placeholders is "(?, ?), (?, ?), …" for n rows.
func placeholders(n int) string {
	b := make([]byte, 0, 8*n)
	for i := range n {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = append(b, "(?, ?)"...)
	}
	return string(b)
}
