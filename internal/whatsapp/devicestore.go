package whatsapp

import (
	"context"
	"fmt"

	"github.com/rs/zerolog"
	"go.mau.fi/whatsmeow/store/sqlstore"

	"wagraph/internal/store"
)

// OpenDeviceStore returns whatsmeow's device store over wagraph's own
// database, creating or upgrading its whatsmeow_* tables under the
// migration lock (instances starting together would collide).
func OpenDeviceStore(ctx context.Context, db *store.DB, log zerolog.Logger) (*sqlstore.Container, error) {
	container := sqlstore.NewWithDB(db.DB.DB, string(db.Kind), NewWALogger(log.With().Str("component", "whatsmeow-store").Logger()))
	if err := db.WithMigrationLock(ctx, container.Upgrade); err != nil {
		return nil, fmt.Errorf("whatsapp: upgrade device store: %w", err)
	}
	return container, nil
}
