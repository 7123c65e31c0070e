package store_test

import (
	"context"
	"database/sql"
	"testing"

	"wagraph/internal/store/storetest"
)

// Connections given back to the pool stay open for the next query, however
// many were in use at once (database/sql keeps 2 by default and closed the
// rest, so busy moments reopened connections over and over).
func TestPoolKeepsIdleConnections(t *testing.T) {
	for _, d := range storetest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			ctx := context.Background()
			db := storetest.Open(t, d)
			var conns []*sql.Conn
			for range 6 {
				c, err := db.DB.DB.Conn(ctx)
				if err != nil {
					t.Fatal(err)
				}
				conns = append(conns, c)
			}
			for _, c := range conns {
				if err := c.Close(); err != nil {
					t.Fatal(err)
				}
			}
			if st := db.DB.DB.Stats(); st.MaxIdleClosed != 0 || st.Idle < 6 {
				t.Fatalf("after 6 connections in use at once: %d idle, %d closed for lack of idle room; want 6 idle, none closed", st.Idle, st.MaxIdleClosed)
			}
		})
	}
}
