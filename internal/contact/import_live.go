package contact

import (
	"context"

	"wagraph/internal/bus"
	"wagraph/internal/live"
)

// ImportEvent is one event of an import's progress stream: the import as
// it is after a change (snapshot: as it is now).
type ImportEvent struct {
	Job      ImportJob
	Snapshot bool
}

// ImportTopic is where an import's progress is published.
func ImportTopic(importID string) bus.Topic[ImportEvent] {
	return bus.Topic[ImportEvent]("contact.import." + importID)
}

// publish announces an import's new state; the change is committed, so a
// failed publish only delays live views (they resync).
func (im *Importer) publish(ctx context.Context, job *ImportJob) {
	if im.bus == nil {
		return
	}
	if err := bus.Publish(context.WithoutCancel(ctx), im.bus, ImportTopic(job.ID), ImportEvent{Job: *job}); err != nil {
		im.log.Warn().Err(err).Str("import_id", job.ID).Msg("publish import progress")
	}
}

// ImportSource is the live stream of one import's progress: the import as
// it is now (NOT_FOUND for an unknown one), then every change, ending after
// the event of its final state (DONE, FAILED or CANCELED).
func (im *Importer) ImportSource(importID string) live.Source[ImportEvent] {
	return live.Source[ImportEvent]{
		Topic: ImportTopic(importID),
		Snapshot: func(ctx context.Context) ([]ImportEvent, error) {
			job, err := im.Import(ctx, importID)
			if err != nil {
				return nil, err
			}
			return []ImportEvent{{Job: *job, Snapshot: true}}, nil
		},
		Key:     func(ev ImportEvent) string { return ev.Job.ID },
		Version: func(ev ImportEvent) int64 { return ev.Job.Version },
		Final:   func(ev ImportEvent) bool { return ev.Job.State.Final() },
		// Every version is published (one per committed change).
		Gapless: true,
	}
}

// WatchImport opens the progress stream of one import (ImportSource).
func (im *Importer) WatchImport(ctx context.Context, importID string) (*live.Cursor[ImportEvent], error) {
	return live.Open(ctx, im.bus, im.ImportSource(importID))
}
