package message

import "context"

// Work runs the send job's work for one message, as a retried job would.
func (s *Service) Work(ctx context.Context, id string) error { return s.work(ctx, id) }
