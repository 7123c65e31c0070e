package whatsapp_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"testing"

	"github.com/rs/zerolog"
	"github.com/uptrace/bun"
	wastore "go.mau.fi/whatsmeow/store"
	"go.mau.fi/whatsmeow/store/sqlstore"
	"go.mau.fi/whatsmeow/types"

	"wagraph/internal/store"
	"wagraph/internal/store/storetest"
	"wagraph/internal/whatsapp"
)

// lidTable is whatsmeow_lid_map as lid → pn.
func lidTable(t *testing.T, db *store.DB) map[string]string {
	t.Helper()
	var rows []struct {
		LID string `bun:"lid"`
		PN  string `bun:"pn"`
	}
	if err := db.NewRaw("SELECT lid, pn FROM whatsmeow_lid_map").Scan(context.Background(), &rows); err != nil {
		t.Fatal(err)
	}
	out := make(map[string]string, len(rows))
	for _, r := range rows {
		out[r.LID] = r.PN
	}
	return out
}

func mapping(lid, pn int) wastore.LIDMapping {
	return wastore.LIDMapping{
		LID: types.NewJID(fmt.Sprint(100000+lid), types.HiddenUserServer),
		PN:  types.NewJID(fmt.Sprint(4915100000+pn), types.DefaultUserServer),
	}
}

// The batched LID map leaves the table exactly as whatsmeow's own store's
// statements do for the same calls, conflicting mappings in one batch
// included (a number moving to another LID, a LID getting another number,
// the last word winning), and its lookups answer what the table holds.
// The reference is a whatsmeow store with an empty cache for each call:
// its long-lived cache keeps a number's old LID after the LID got another
// number, and then skips that mapping when it comes back.
func TestLIDMapMatchesWhatsmeow(t *testing.T) {
	for _, dialect := range storetest.Dialects {
		t.Run(string(dialect), func(t *testing.T) {
			ctx := context.Background()
			refDB, ourDB := storetest.Open(t, dialect), storetest.Open(t, dialect)
			if _, err := whatsapp.OpenDeviceStore(ctx, refDB, zerolog.Nop()); err != nil {
				t.Fatal(err)
			}
			if _, err := whatsapp.OpenDeviceStore(ctx, ourDB, zerolog.Nop()); err != nil {
				t.Fatal(err)
			}
			ours := whatsapp.NewLIDMap(ourDB)
			rng := rand.New(rand.NewPCG(7, 11))
			for round := range 150 {
				ref := sqlstore.NewWithDB(refDB.DB.DB, string(dialect), nil)
				// 40 LIDs and numbers: batches collide with each other and
				// with themselves.
				batch := make([]wastore.LIDMapping, rng.IntN(30))
				for i := range batch {
					batch[i] = mapping(rng.IntN(40), rng.IntN(40))
				}
				if round%7 == 3 {
					batch = append(batch, wastore.LIDMapping{LID: types.NewJID("1", types.DefaultUserServer), PN: types.NewJID("2", types.HiddenUserServer)}) // invalid: ignored
				}
				if round%5 == 4 && len(batch) > 0 {
					m := batch[0]
					if err := ref.LIDMap.PutLIDMapping(ctx, m.LID, m.PN); err != nil {
						t.Fatal(err)
					}
					if err := ours.PutLIDMapping(ctx, m.LID, m.PN); err != nil {
						t.Fatal(err)
					}
					continue
				}
				if err := ref.LIDMap.PutManyLIDMappings(ctx, append([]wastore.LIDMapping(nil), batch...)); err != nil {
					t.Fatal(err)
				}
				if err := ours.PutManyLIDMappings(ctx, batch); err != nil {
					t.Fatal(err)
				}
				want, got := lidTable(t, refDB), lidTable(t, ourDB)
				if fmt.Sprint(want) != fmt.Sprint(got) {
					t.Fatalf("round %d, batch %v:\nwhatsmeow %v\nLIDMap    %v", round, batch, want, got)
				}
				pns := make([]types.JID, 40)
				for i := range pns {
					pns[i] = mapping(i, i).PN
				}
				// A fresh whatsmeow store reads the table (its cache is stale).
				wantLIDs, err := sqlstore.NewWithDB(refDB.DB.DB, string(dialect), nil).LIDMap.GetManyLIDsForPNs(ctx, pns)
				if err != nil {
					t.Fatal(err)
				}
				gotLIDs, err := ours.GetManyLIDsForPNs(ctx, pns)
				if err != nil {
					t.Fatal(err)
				}
				if fmt.Sprint(wantLIDs) != fmt.Sprint(gotLIDs) {
					t.Fatalf("round %d: GetManyLIDsForPNs\nwhatsmeow %v\nLIDMap    %v", round, wantLIDs, gotLIDs)
				}
				for i := range 40 {
					m := mapping(i, i)
					pn, err := ours.GetPNForLID(ctx, m.LID)
					if err != nil {
						t.Fatal(err)
					}
					if pn.User != got[m.LID.User] {
						t.Fatalf("round %d: GetPNForLID(%s) = %q, the table says %q", round, m.LID.User, pn.User, got[m.LID.User])
					}
					lid, err := ours.GetLIDForPN(ctx, m.PN)
					if err != nil {
						t.Fatal(err)
					}
					if lid.User != "" && got[lid.User] != m.PN.User {
						t.Fatalf("round %d: GetLIDForPN(%s) = %q, which the table maps to %q", round, m.PN.User, lid.User, got[lid.User])
					}
					if lid.User == "" {
						for l, p := range got {
							if p == m.PN.User {
								t.Fatalf("round %d: GetLIDForPN(%s) found nothing, the table has %s", round, m.PN.User, l)
							}
						}
					}
				}
			}
		})
	}
}

// countQueries counts the statements bun runs on a database.
type countQueries struct{ n atomic.Int64 }

func (c *countQueries) BeforeQuery(ctx context.Context, _ *bun.QueryEvent) context.Context {
	c.n.Add(1)
	return ctx
}

func (*countQueries) AfterQuery(context.Context, *bun.QueryEvent) {}

// 5,000 new mappings (one group listing of an account in many groups) cost
// a handful of statements per thousand, not two per mapping, and a second
// listing with the same mappings costs none.
func TestLIDMapWritesInBatches(t *testing.T) {
	storetest.RunDialects(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		if _, err := whatsapp.OpenDeviceStore(ctx, db, zerolog.Nop()); err != nil {
			t.Fatal(err)
		}
		lm := whatsapp.NewLIDMap(db)
		batch := make([]wastore.LIDMapping, 5000)
		for i := range batch {
			batch[i] = mapping(i, i)
		}
		hook := &countQueries{}
		db.AddQueryHook(hook)
		if err := lm.PutManyLIDMappings(ctx, batch); err != nil {
			t.Fatal(err)
		}
		if n := hook.n.Load(); n > 5*4 {
			t.Fatalf("%d statements for 5,000 mappings, want at most 20", n)
		}
		if got := len(lidTable(t, db)); got != 5000 {
			t.Fatalf("%d rows, want 5000", got)
		}
		hook.n.Store(0)
		if err := lm.PutManyLIDMappings(ctx, batch); err != nil {
			t.Fatal(err)
		}
		if n := hook.n.Load(); n != 0 {
			t.Fatalf("%d statements for mappings held already, want 0", n)
		}
	})
}
