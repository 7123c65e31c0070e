package wasim

import (
	"errors"
	"testing"

	"go.mau.fi/whatsmeow/types"
)

func TestGroups(t *testing.T) {
	sim := newSim(t)
	cli, _, phone, _ := pairedClient(t, sim)

	friend := sim.NewPhone()
	stranger := types.NewJID("4915112345678", types.DefaultUserServer)
	lidOnly := types.NewJID("987654321012345", types.HiddenUserServer)
	pnGroup, err := sim.AddGroup(phone.JID, GroupSpec{
		Name:  "Marketing",
		Topic: "launch plans",
		Participants: []Participant{
			{Phone: friend.JID, Admin: true},
			{Phone: stranger},
		},
	})
	if err != nil {
		t.Fatalf("AddGroup pn: %v", err)
	}
	lidGroup, err := sim.AddGroup(friend.JID, GroupSpec{
		Name:           "Hidden numbers",
		AddressingMode: AddressingLID,
		Participants:   []Participant{{Phone: phone.JID}, {LID: lidOnly}},
	})
	if err != nil {
		t.Fatalf("AddGroup lid: %v", err)
	}
	otherGroup, err := sim.AddGroup(friend.JID, GroupSpec{Name: "Not mine"})
	if err != nil {
		t.Fatalf("AddGroup other: %v", err)
	}

	joined, err := cli.GetJoinedGroups(t.Context())
	if err != nil {
		t.Fatalf("GetJoinedGroups: %v", err)
	}
	if len(joined) != 2 {
		t.Fatalf("joined %d groups, want 2", len(joined))
	}
	names := map[types.JID]string{}
	for _, g := range joined {
		names[g.JID] = g.Name
	}
	if names[pnGroup] != "Marketing" || names[lidGroup] != "Hidden numbers" {
		t.Errorf("joined groups = %v", names)
	}

	info, err := cli.GetGroupInfo(t.Context(), pnGroup)
	if err != nil {
		t.Fatalf("GetGroupInfo pn: %v", err)
	}
	if info.AddressingMode != types.AddressingModePN || info.Topic != "launch plans" || info.OwnerJID != phone.JID {
		t.Errorf("pn group info = mode %q topic %q owner %s", info.AddressingMode, info.Topic, info.OwnerJID)
	}
	if len(info.Participants) != 3 {
		t.Fatalf("pn group has %d participants, want 3", len(info.Participants))
	}
	byPN := map[types.JID]types.GroupParticipant{}
	for _, p := range info.Participants {
		if p.JID.Server != types.DefaultUserServer || p.LID.Server != types.HiddenUserServer || p.PhoneNumber != p.JID {
			t.Errorf("pn participant %+v lacks phone/LID pair", p)
		}
		byPN[p.PhoneNumber] = p
	}
	if !byPN[phone.JID].IsSuperAdmin || !byPN[friend.JID].IsAdmin || byPN[stranger].IsAdmin {
		t.Errorf("admin flags wrong: %+v", byPN)
	}
	if byPN[friend.JID].LID != friend.LID {
		t.Errorf("friend's LID = %s, want %s", byPN[friend.JID].LID, friend.LID)
	}

	// The client learned the phone number <-> LID mapping from the group.
	if lid, err := cli.Store.LIDs.GetLIDForPN(t.Context(), friend.JID); err != nil || lid != friend.LID {
		t.Errorf("stored LID for %s = %s, %v", friend.JID, lid, err)
	}

	info, err = cli.GetGroupInfo(t.Context(), lidGroup)
	if err != nil {
		t.Fatalf("GetGroupInfo lid: %v", err)
	}
	if info.AddressingMode != types.AddressingModeLID || info.OwnerJID != friend.LID || info.OwnerPN != friend.JID {
		t.Errorf("lid group info = mode %q owner %s/%s", info.AddressingMode, info.OwnerJID, info.OwnerPN)
	}
	var sawLIDOnly bool
	for _, p := range info.Participants {
		if p.JID.Server != types.HiddenUserServer || p.PhoneNumber.Server != types.DefaultUserServer || p.LID != p.JID {
			t.Errorf("lid participant %+v lacks phone/LID pair", p)
		}
		if p.LID == lidOnly {
			sawLIDOnly = true
		}
	}
	if !sawLIDOnly {
		t.Error("LID-only participant missing from lid group")
	}

	if _, err := cli.GetGroupInfo(t.Context(), otherGroup); err == nil {
		t.Error("GetGroupInfo of a group the account is not in succeeded")
	}
	if _, err := cli.GetGroupInfo(t.Context(), types.NewJID("120363000000000000", types.GroupServer)); err == nil {
		t.Error("GetGroupInfo of a missing group succeeded")
	}
}

func TestAddGroupRejectsBadSpecs(t *testing.T) {
	sim := newSim(t)
	a, b := sim.NewPhone(), sim.NewPhone()
	cases := map[string]struct {
		owner types.JID
		spec  GroupSpec
	}{
		"unknown owner": {types.NewJID("1234567", types.DefaultUserServer), GroupSpec{}},
		"bad mode":      {a.JID, GroupSpec{AddressingMode: "x"}},
		"empty member":  {a.JID, GroupSpec{Participants: []Participant{{}}}},
		"pn is a group": {a.JID, GroupSpec{Participants: []Participant{{Phone: types.NewJID("1", types.GroupServer)}}}},
		"lid not lid":   {a.JID, GroupSpec{Participants: []Participant{{LID: b.JID}}}},
		"mismatch":      {a.JID, GroupSpec{Participants: []Participant{{Phone: a.JID, LID: b.LID}}}},
		"pn other lid":  {a.JID, GroupSpec{Participants: []Participant{{Phone: b.JID, LID: types.NewJID("5", types.HiddenUserServer)}}}},
		"lid other pn":  {a.JID, GroupSpec{Participants: []Participant{{Phone: types.NewJID("4915000000", types.DefaultUserServer), LID: b.LID}}}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := sim.AddGroup(tc.owner, tc.spec); !errors.Is(err, ErrBadGroupSpec) {
				t.Fatalf("err = %v, want ErrBadGroupSpec", err)
			}
		})
	}
}
