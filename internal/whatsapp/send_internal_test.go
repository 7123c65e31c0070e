package whatsapp

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
)

type inboundRecorder struct {
	mu    sync.Mutex
	peers []string
}

func (r *inboundRecorder) RecordInbound(_ context.Context, accountID, peer string, _ time.Time) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.peers = append(r.peers, accountID+" "+peer)
	return nil
}

// Incoming direct messages name their sender as a known chat (by number,
// also for a LID-addressed message with the number as its alternative);
// own, group and broadcast messages do not.
func TestInboundSendersBecomeKnownChats(t *testing.T) {
	rec := &inboundRecorder{}
	m := newTestManager(t, Options{Inbound: rec})
	s, _ := newTestSession(t, m, "15550100001:4@s.whatsapp.net")
	pn, lid := mustJID("4915100000001@s.whatsapp.net"), mustJID("123456789@lid")
	msg := func(src types.MessageSource) *events.Message {
		return &events.Message{Info: types.MessageInfo{MessageSource: src, Timestamp: time.Now()}}
	}
	for _, e := range []*events.Message{
		msg(types.MessageSource{Chat: pn, Sender: pn}),
		msg(types.MessageSource{Chat: lid, Sender: lid, SenderAlt: mustJID("4915100000002@s.whatsapp.net")}),
		msg(types.MessageSource{Chat: lid, Sender: mustJID("555@lid")}),
		msg(types.MessageSource{Chat: pn, Sender: pn, IsFromMe: true}),
		msg(types.MessageSource{Chat: mustJID("1203630@g.us"), Sender: pn, IsGroup: true}),
		msg(types.MessageSource{Chat: types.NewJID("123", types.BroadcastServer), Sender: pn}),
	} {
		s.handleEvent(e)
	}
	want := []string{"acc +4915100000001", "acc +4915100000002", "acc 555@lid"}
	if !slices.Equal(rec.peers, want) {
		t.Fatalf("known chats %v, want %v", rec.peers, want)
	}
}
