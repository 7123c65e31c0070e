package account_test

import (
	"context"
	"testing"

	"github.com/rs/zerolog"

	"wagraph/internal/account"
	"wagraph/internal/pubsub"
	"wagraph/internal/store"
	"wagraph/internal/store/storetest"
)

func TestCountByStatus(t *testing.T) {
	storetest.RunDialects(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		b := pubsub.NewMemory(pubsub.Options{})
		t.Cleanup(func() { _ = b.Close() })
		svc := account.New(db, b, account.Options{Logger: zerolog.Nop()})
		if n, err := svc.CountByStatus(ctx); err != nil || len(n) != 0 {
			t.Fatalf("no accounts: %v %v", n, err)
		}
		for _, name := range []string{"a", "b"} {
			if _, err := svc.Create(ctx, account.CreateInput{Name: name}); err != nil {
				t.Fatal(err)
			}
		}
		n, err := svc.CountByStatus(ctx)
		if err != nil || n[account.StatusPending] != 2 || len(n) != 1 {
			t.Fatalf("two new accounts: %v %v", n, err)
		}
	})
}
