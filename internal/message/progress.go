package message

import (
	"context"

	"wagraph/internal/bus"
	"wagraph/internal/live"
)

// BatchProgress is one event of a batch's progress: its counts after a
// change (or now, for the snapshot).
type BatchProgress struct {
	Batch *Batch `json:"batch"`
	// Snapshot marks the first event, the state when the stream opened.
	Snapshot bool `json:"snapshot"`
}

// BatchTopic is where a batch's progress is published.
func BatchTopic(batchID string) bus.Topic[BatchProgress] {
	return bus.Topic[BatchProgress]("message.batch." + batchID)
}

// publishProgress announces a batch's counts after a committed change.
// A publish that fails is only logged: the change is committed, and the
// stream reloads its snapshot when it sees the gap.
func (s *Service) publishProgress(ctx context.Context, b *batchRow) {
	if s.Bus == nil {
		return
	}
	if err := bus.Publish(context.WithoutCancel(ctx), s.Bus, BatchTopic(b.ID), BatchProgress{Batch: b.toBatch()}); err != nil {
		s.log.Warn().Err(err).Str("batch_id", b.ID).Msg("could not publish batch progress")
	}
}

// BatchSource is the live stream of a batch's progress: its counts now,
// then every change, ending after the event that finishes the batch (every
// message sent, failed or canceled). NOT_FOUND for an unknown batch.
func (s *Service) BatchSource(batchID string) live.Source[BatchProgress] {
	return live.Source[BatchProgress]{
		Topic: BatchTopic(batchID),
		Snapshot: func(ctx context.Context) ([]BatchProgress, error) {
			b, err := s.GetBatch(ctx, batchID)
			if err != nil {
				return nil, err
			}
			return []BatchProgress{{Batch: b, Snapshot: true}}, nil
		},
		Key:     func(p BatchProgress) string { return p.Batch.ID },
		Version: func(p BatchProgress) int64 { return p.Batch.Version },
		Final:   func(p BatchProgress) bool { return p.Batch.Done() },
		// Every change of the counts is published with the next version.
		Gapless: true,
	}
}

// WatchBatch opens the live stream of a batch's progress (BatchSource).
func (s *Service) WatchBatch(ctx context.Context, batchID string) (*live.Cursor[BatchProgress], error) {
	return live.Open(ctx, s.Bus, s.BatchSource(batchID))
}
