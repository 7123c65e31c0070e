package message

import (
	"context"
	"sync"
	"time"
)

// lookups caches IsOnWhatsApp answers and paces the queries per account.
// WhatsApp answers contact queries in bulk but watches how often an
// account asks (a number asking about thousands of strangers looks like a
// spammer harvesting), so each account asks at most once per interval,
// about up to LookupBatch numbers at a time, and an answer is reused for
// ttl (a number not on WhatsApp for a tenth of it: it may register).
type lookups struct {
	interval time.Duration
	ttl      time.Duration
	now      func() time.Time

	mu    sync.Mutex
	cache map[string]lookupEntry // by number (E.164)
	next  map[string]time.Time   // by account: the earliest next query
	turns *turns                 // by account: held while it queries
}

type lookupEntry struct {
	on      bool
	expires time.Time
}

// maxLookupWait is the longest a send job waits for its account's next
// query slot; a longer wait snoozes the job instead of holding a worker.
const maxLookupWait = 5 * time.Second

// maxCached bounds the cache; expired entries are dropped when it is full.
const maxCached = 200_000

func newLookups(interval, ttl time.Duration, now func() time.Time) *lookups {
	return &lookups{interval: interval, ttl: ttl, now: now, cache: map[string]lookupEntry{}, next: map[string]time.Time{}, turns: newTurns()}
}

// cached returns the answer for phone, if one is fresh.
func (l *lookups) cached(phone string) (on, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.cache[phone]
	if !ok || !l.now().Before(e.expires) {
		return false, false
	}
	return e.on, true
}

// reserve takes the account's query slot: 0 when it may query now,
// otherwise how long until it may.
func (l *lookups) reserve(accountID string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if next := l.next[accountID]; now.Before(next) {
		return next.Sub(now)
	}
	l.next[accountID] = now.Add(l.interval)
	return 0
}

// turn waits until no other query of the account is running (see
// turns); senders waiting for the same account's query find its answers
// cached when their turn comes, instead of asking again.
func (l *lookups) turn(ctx context.Context, accountID string) (func(), bool) {
	return l.turns.turn(ctx, accountID)
}

// turns lets one caller per account at a time through. An account's slot
// stays in the map once made (a channel per account that ever sent).
type turns struct {
	mu sync.Mutex
	by map[string]chan struct{}
}

func newTurns() *turns { return &turns{by: map[string]chan struct{}{}} }

// turn waits for the account's turn and returns the function that ends
// it; false when ctx ended first.
func (t *turns) turn(ctx context.Context, accountID string) (func(), bool) {
	t.mu.Lock()
	ch := t.by[accountID]
	if ch == nil {
		ch = make(chan struct{}, 1)
		t.by[accountID] = ch
	}
	t.mu.Unlock()
	select {
	case ch <- struct{}{}:
		return func() { <-ch }, true
	case <-ctx.Done():
		return nil, false
	}
}

// store keeps answers.
func (l *lookups) store(answers map[string]bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if len(l.cache)+len(answers) > maxCached {
		for k, e := range l.cache {
			if !now.Before(e.expires) {
				delete(l.cache, k)
			}
		}
		for k, t := range l.next {
			if !now.Before(t) {
				delete(l.next, k)
			}
		}
	}
	for phone, on := range answers {
		ttl := l.ttl
		if !on {
			ttl /= 10
		}
		l.cache[phone] = lookupEntry{on: on, expires: now.Add(ttl)}
	}
}

// onWhatsApp tells whether m's recipient is on WhatsApp. When the account
// must wait for its next query, wait says how long (and the answer is
// unknown). A query for a batch's message also asks about the batch's next
// queued recipients, so a batch needs one query per LookupBatch messages.
func (s *Service) onWhatsApp(ctx context.Context, m *messageRow) (on bool, wait time.Duration, err error) {
	if on, ok := s.lookups.cached(m.Recipient); ok {
		return on, 0, nil
	}
	done, ok := s.lookups.turn(ctx, m.AccountID)
	if !ok {
		return false, 0, ctx.Err()
	}
	defer done()
	if on, ok := s.lookups.cached(m.Recipient); ok {
		return on, 0, nil // the query before ours answered it
	}
	if wait := s.lookups.reserve(m.AccountID); wait > 0 {
		if wait > maxLookupWait {
			return false, wait, nil
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return false, 0, ctx.Err()
		}
		s.lookups.reserve(m.AccountID)
	}
	phones := []string{m.Recipient}
	if m.BatchID != "" && s.opts.LookupBatch > 1 {
		var next []string
		err := s.DB.NewSelect().Model((*messageRow)(nil)).Column("recipient").
			Where("m.batch_id = ? AND m.status = ? AND m.id > ?", m.BatchID, string(Queued), m.ID).
			OrderExpr("m.id").Limit(int64(4*s.opts.LookupBatch)).Scan(ctx, &next)
		if err != nil {
			return false, 0, err
		}
		seen := map[string]bool{m.Recipient: true}
		for _, p := range next {
			if len(phones) == s.opts.LookupBatch {
				break
			}
			if _, ok := s.lookups.cached(p); !ok && !seen[p] {
				seen[p] = true
				phones = append(phones, p)
			}
		}
	}
	answers, err := s.Sender.IsOnWhatsApp(ctx, m.AccountID, phones)
	if err != nil {
		return false, 0, err
	}
	// A number WhatsApp did not answer for is not on it.
	all := make(map[string]bool, len(phones))
	for _, p := range phones {
		all[p] = answers[p]
	}
	s.lookups.store(all)
	return all[m.Recipient], 0, nil
}
