package main

import (
	"testing"

	"github.com/rs/zerolog"

	"wagraph/internal/store/storetest"
	"wagraph/internal/wasim"
)

// rootKey signs every simulator of this test binary: whatsmeow trusts one
// certificate root per process.
var rootKey = wasim.NewRootKey()

// The benchmark's run, small: two accounts each drain a batch to five
// recipients, and every phone decrypts its messages, on each database.
func TestDrainSmall(t *testing.T) {
	for _, dialect := range storetest.Dialects {
		t.Run(string(dialect), func(t *testing.T) {
			res, err := run(t.Context(), options{
				Accounts: 2, Recipients: 5, Workers: 4, DatabaseURL: storetest.URL(t, dialect), RootKey: rootKey,
				Log: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel),
			})
			if err != nil {
				t.Fatal(err)
			}
			if res.Messages != 10 || res.Sent != 10 || res.Delivered != 10 || res.rate() <= 0 {
				t.Fatalf("result = %+v", res)
			}
		})
	}
}
