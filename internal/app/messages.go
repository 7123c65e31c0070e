package app

import (
	"context"
	"sync/atomic"
	"time"

	"wagraph/internal/message"
)

// newMessages builds the message service (sendMessage, the send queue,
// batches) on the live sessions, the accounts' limits and the contact base,
// and registers its send worker.
// Outcomes is *sending.Policy: it records every send's result
// (RecordSendResult) and pauses an account on 463 and failure bursts.
func (a *App) newMessages() {
	var sender message.Sender = a.sessions
	if router := a.Supervisor.Router(); router != nil { // several instances
		sender = newRoutedSender(a.sessions, a.Supervisor, router)
	}
	a.Messages = message.New(message.Deps{
		DB: a.DB, Jobs: a.Jobs, Bus: a.Bus,
		Sender: sender, Admitter: a.Sending, Outcomes: a.Sending, Contacts: a.Contacts,
	}, message.Options{Logger: a.Log, DefaultRegion: a.Config.ContactDefaultRegion, LaneWorkers: a.Config.SendLaneWorkers})
	a.Messages.RegisterJobs(a.JobRegistry)
	a.inbound.svc.Store(a.Messages)
}

// inboundRelay hands the senders of incoming messages to the message
// service once it exists: sessions are restored (and receive messages)
// before it is built. A message received before then is not recorded, so
// its sender counts as a new chat: the error is on the side of sending
// less.
type inboundRelay struct {
	svc atomic.Pointer[message.Service]
}

func (r *inboundRelay) RecordInbound(ctx context.Context, accountID, peer string, at time.Time) error {
	if s := r.svc.Load(); s != nil {
		return s.RecordInbound(ctx, accountID, peer, at)
	}
	return nil
}
