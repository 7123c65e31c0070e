package wasim

import (
	"encoding/json"
	"testing"

	"go.mau.fi/whatsmeow/types/events"
)

// A simulator started from another's Snapshot, on the same address, is the
// same WhatsApp to a client: it reconnects by itself, logs in with its
// stored device, and a phone decrypts its next message on the Signal
// session opened before the restart.
func TestRestartFromSnapshot(t *testing.T) {
	sim := newSim(t)
	cli, log, phone, _ := pairedClient(t, sim)
	friend := sim.NewPhone()
	if _, err := cli.SendMessage(t.Context(), friend.JID, text("before")); err != nil {
		t.Fatalf("SendMessage: %v", err)
	}
	group, err := sim.AddGroup(phone.JID, GroupSpec{Name: "Kept", Participants: []Participant{{Phone: friend.JID}}})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(sim.Snapshot())
	if err != nil {
		t.Fatal(err)
	}
	var state State
	if err := json.Unmarshal(raw, &state); err != nil {
		t.Fatal(err)
	}

	mark := log.mark()
	sim.Close()
	again, err := Start(t.Context(), Options{Logger: testLogger(t), Addr: sim.Addr(), State: &state})
	if err != nil {
		t.Fatalf("Start from the snapshot: %v", err)
	}
	t.Cleanup(again.Close)
	waitFor[*events.Connected](t, log, mark)

	if _, err := cli.SendMessage(t.Context(), friend.JID, text("after")); err != nil {
		t.Fatalf("SendMessage after the restart: %v", err)
	}
	if sent := again.Sent(*cli.Store.ID); len(sent) != 1 || sent[0].Body != "after" {
		t.Errorf("Sent after the restart = %+v, want %q decrypted by the friend's phone", sent, "after")
	}
	if _, err := cli.SendMessage(t.Context(), group, text("to the group")); err != nil {
		t.Fatalf("SendMessage to the restored group: %v", err)
	}
	if got := again.SentTo(group); len(got) != 1 || got[0].Body != "to the group" {
		t.Errorf("group message after the restart = %+v", got)
	}
	if c := again.Counts(*cli.Store.ID); c.Logins != 2 || c.Replaced != 0 {
		t.Errorf("login counts after the restart: %+v, want 2 logins", c)
	}
	if p := again.NewPhone(); p.Number == phone.Number || p.Number == friend.Number {
		t.Errorf("a new phone got the number %s of a phone made before the restart", p.Number)
	}
}
