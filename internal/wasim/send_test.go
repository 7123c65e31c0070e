package wasim

import (
	"errors"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
)

func text(s string) *waE2E.Message { return &waE2E.Message{Conversation: proto.String(s)} }

func TestSendDirectMessage(t *testing.T) {
	sim := newSim(t)
	cli, _, _, _ := pairedClient(t, sim)
	friend := sim.NewPhone()

	for _, body := range []string{"hello", "second message on the same session"} {
		resp, err := cli.SendMessage(t.Context(), friend.JID, text(body))
		if err != nil {
			t.Fatalf("SendMessage %q: %v", body, err)
		}
		if resp.Timestamp.IsZero() {
			t.Error("send response has no server timestamp")
		}
	}
	sent := sim.Sent(*cli.Store.ID)
	if len(sent) != 2 {
		t.Fatalf("Sent = %d messages, want 2", len(sent))
	}
	for i, want := range []string{"hello", "second message on the same session"} {
		m := sent[i]
		if m.To != friend.JID || m.From != *cli.Store.ID || m.At.IsZero() || m.ErrorCode != 0 {
			t.Errorf("message %d = %+v", i, m)
		}
		if m.Body != want {
			t.Errorf("message %d body = %q, want %q", i, m.Body, want)
		}
	}
	if got := sim.SentTo(friend.JID); len(got) != 2 {
		t.Errorf("SentTo(friend) = %d messages, want 2", len(got))
	}
	// The account-wide view includes the device's messages.
	if got := sim.Sent(cli.Store.ID.ToNonAD()); len(got) != 2 {
		t.Errorf("Sent(account) = %d messages, want 2", len(got))
	}
}

func TestRejectSends(t *testing.T) {
	sim := newSim(t)
	cli, _, _, _ := pairedClient(t, sim)
	friend := sim.NewPhone()
	if err := sim.RejectSends(*cli.Store.ID, 463); err != nil {
		t.Fatalf("RejectSends: %v", err)
	}
	_, err := cli.SendMessage(t.Context(), friend.JID, text("blocked"))
	if !errors.Is(err, whatsmeow.ErrServerReturnedError) || !strings.Contains(err.Error(), "463") {
		t.Fatalf("SendMessage err = %v, want server error 463", err)
	}
	if sent := sim.Sent(*cli.Store.ID); len(sent) != 1 || sent[0].ErrorCode != 463 {
		t.Fatalf("Sent = %+v, want one rejected message", sent)
	}
	if err := sim.RejectSends(*cli.Store.ID, 0); err != nil {
		t.Fatalf("RejectSends(0): %v", err)
	}
	if _, err := cli.SendMessage(t.Context(), friend.JID, text("allowed")); err != nil {
		t.Fatalf("SendMessage after lifting: %v", err)
	}
}

func TestSendGroupMessage(t *testing.T) {
	for _, mode := range []string{AddressingPN, AddressingLID} {
		t.Run(mode, func(t *testing.T) {
			sim := newSim(t)
			cli, _, phone, _ := pairedClient(t, sim)
			a, b := sim.NewPhone(), sim.NewPhone()
			group, err := sim.AddGroup(phone.JID, GroupSpec{
				Name: "Broadcast", AddressingMode: mode,
				Participants: []Participant{{Phone: a.JID}, {Phone: b.JID}},
			})
			if err != nil {
				t.Fatalf("AddGroup: %v", err)
			}
			for _, body := range []string{"hi all", "again"} {
				if _, err := cli.SendMessage(t.Context(), group, text(body)); err != nil {
					t.Fatalf("SendMessage to group: %v", err)
				}
			}
			sent := sim.SentTo(group)
			if len(sent) != 2 {
				t.Fatalf("SentTo(group) = %d, want 2", len(sent))
			}
			if sent[0].Body != "hi all" || sent[1].Body != "again" {
				t.Errorf("group bodies = %q, %q", sent[0].Body, sent[1].Body)
			}
			if len(sent[0].Devices) < 2 {
				t.Errorf("first group message went to %v, want both members' phones", sent[0].Devices)
			}
		})
	}
}

func TestIsOnWhatsApp(t *testing.T) {
	sim := newSim(t)
	cli, _, _, _ := pairedClient(t, sim)
	friend := sim.NewPhone()
	resp, err := cli.IsOnWhatsApp(t.Context(), []string{friend.Number, "+4915199999999"})
	if err != nil {
		t.Fatalf("IsOnWhatsApp: %v", err)
	}
	if len(resp) != 2 {
		t.Fatalf("got %d answers, want 2", len(resp))
	}
	in := map[string]bool{}
	for _, r := range resp {
		in[r.Query] = r.IsIn
		if r.Query == friend.Number && r.JID != friend.JID {
			t.Errorf("JID for %s = %s, want %s", r.Query, r.JID, friend.JID)
		}
	}
	if !in[friend.Number] || in["+4915199999999"] {
		t.Errorf("IsIn = %v", in)
	}
	info, err := cli.GetUserInfo(t.Context(), []types.JID{friend.JID})
	if err != nil {
		t.Fatalf("GetUserInfo: %v", err)
	}
	if got := info[friend.JID]; got.LID != friend.LID || len(got.Devices) != 1 {
		t.Errorf("user info = %+v, want LID %s and the phone's device", got, friend.LID)
	}
}
