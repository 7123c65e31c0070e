package wasim

import (
	"fmt"

	"go.mau.fi/whatsmeow/types"
)

// Demo groups: what --simulate puts a freshly linked phone in, so a new
// user can refresh groups and scrape straight away. The members have real
// looking numbers (valid for libphonenumber), so they become contacts with
// numbers; the same people return for every linked account, so scraping
// two accounts shows the deduplication.

// DemoGroupSizes are the member counts of the demo groups, the owner
// included, in the order AddDemoGroups returns them.
var DemoGroupSizes = []int{9, 7, 151}

// DemoHiddenMember is the member of the LID-addressed demo group whose
// number clients do not learn from the group (RevealPhone tells them).
var DemoHiddenMember = types.NewJID("351912340006", types.DefaultUserServer)

// AddDemoGroups puts the account of owner (a simulated phone's number JID)
// in three groups: "Berlin runners" (members listed by number, two
// admins), "Porto market" (listed by LID; one member's number hidden),
// and "Neighbourhood community" (150 members, announce-only, three of
// them also Berlin runners). A phone that has them already (linked again)
// keeps them: nothing is added and nil is returned.
func (s *Simulator) AddDemoGroups(owner types.JID) ([]types.JID, error) {
	s.mu.Lock()
	p := s.phoneFor(owner)
	for _, g := range s.groups {
		if p != nil && g.owner == p && g.name == "Berlin runners" {
			s.mu.Unlock()
			return nil, nil
		}
	}
	s.mu.Unlock()
	num := func(n string) types.JID { return types.NewJID(n, types.DefaultUserServer) }
	var runners, market, community []Participant
	for i := 1; i <= 8; i++ {
		runners = append(runners, Participant{Phone: num(fmt.Sprintf("49151234000%02d", i)), Admin: i <= 2})
	}
	for i := 1; i <= 6; i++ {
		market = append(market, Participant{Phone: num(fmt.Sprintf("35191234000%d", i))})
	}
	community = append(community, runners[:3]...)
	for i := 1; i <= 147; i++ {
		community = append(community, Participant{Phone: num(fmt.Sprintf("491761230%04d", i))})
	}
	specs := []GroupSpec{
		{Name: "Berlin runners", Topic: "Sunday long runs, 9:00 at the Tiergarten", Participants: runners},
		{Name: "Porto market", Participants: market, AddressingMode: AddressingLID},
		{Name: "Neighbourhood community", Topic: "News for the neighbourhood", Participants: community},
	}
	jids := make([]types.JID, 0, len(specs))
	for _, spec := range specs {
		jid, err := s.AddGroup(owner, spec)
		if err != nil {
			return nil, err
		}
		jids = append(jids, jid)
	}
	if err := s.HidePhone(jids[1], DemoHiddenMember); err != nil {
		return nil, err
	}
	if err := s.SetGroupFlags(jids[2], true, false); err != nil {
		return nil, err
	}
	return jids, nil
}
