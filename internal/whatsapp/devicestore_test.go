package whatsapp_test

import (
	"context"
	"sync"
	"testing"

	"github.com/rs/zerolog"

	"wagraph/internal/store"
	"wagraph/internal/store/storetest"
	"wagraph/internal/whatsapp"
)

// Instances started together on a fresh database (a first deploy of
// several) each open the device store at once: every one starts, none
// fails on the table another is creating (the whatsmeow upgrade runs
// under the migration lock, one instance at a time).
func TestInstancesStartingTogetherOpenTheDeviceStore(t *testing.T) {
	for _, dialect := range storetest.Dialects {
		t.Run(string(dialect), func(t *testing.T) {
			url := storetest.URL(t, dialect)
			const instances = 4
			dbs := make([]*store.DB, instances)
			for i := range dbs {
				db, err := store.Open(context.Background(), url, store.Options{})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = db.Close() })
				dbs[i] = db
			}
			errs := make([]error, instances)
			var wg sync.WaitGroup
			for i, db := range dbs {
				wg.Go(func() {
					_, errs[i] = whatsapp.OpenDeviceStore(t.Context(), db, zerolog.Nop())
				})
			}
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Errorf("instance %d: %v", i, err)
				}
			}
		})
	}
}
