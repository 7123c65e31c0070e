package contact

import (
	"testing"
	"time"

	"wagraph/internal/store"
	"wagraph/internal/store/storetest"
)

// On SQLite the import pauses (letting River and the API take the write
// lock) once its batches have held the lock for sqliteHold, not after every
// batch, which cost more than half of a large import's time; on Postgres
// it never pauses.
func TestImportPausesAfterHoldingTheWriteLock(t *testing.T) {
	storetest.RunDialects(t, func(t *testing.T, db *store.DB) {
		im := NewImporter(New(db, Options{}), nil, nil, ImportOptions{})
		sqlite := db.Kind == store.SQLite
		for _, tc := range []struct {
			held time.Duration
			want bool
		}{
			{0, false},
			{90 * time.Millisecond, false}, // one 500-row batch
			{sqliteHold, sqlite},
			{2 * time.Second, sqlite}, // one slow batch
		} {
			if got := im.mustYield(time.Now().Add(-tc.held)); got != tc.want {
				t.Errorf("%s, lock held %v: pause %v, want %v", db.Kind, tc.held, got, tc.want)
			}
		}
	})
}

// The pause grows with the time the lock was held, so slow batches (-race,
// a loaded machine) still leave the other writers a third of the time.
func TestImportPauseGrowsWithTheHold(t *testing.T) {
	for _, tc := range []struct{ held, want time.Duration }{
		{100 * time.Millisecond, sqliteYield}, // the 120 ms floor
		{sqliteHold, 150 * time.Millisecond},
		{600 * time.Millisecond, 300 * time.Millisecond},
		{2 * time.Second, time.Second},
	} {
		if got := yieldPause(tc.held); got != tc.want {
			t.Errorf("held %v: pause %v, want %v", tc.held, got, tc.want)
		}
	}
}
