package wasim

import (
	"fmt"
	"strconv"
	"time"

	"go.mau.fi/whatsmeow/types"
)

// AddBigGroup creates a group as AddGroup does, for load tests with
// hundreds of thousands of members: numbers the simulator does not know
// yet become light phones, without Signal keys, so they cost no key
// generation; they can be listed, scraped and revealed, but not messaged.
// The owner (a simulated phone's number JID) is superadmin; mode is
// AddressingPN or AddressingLID.
func (s *Simulator) AddBigGroup(owner types.JID, name, mode string, numbers []string) (types.JID, error) {
	if mode == "" {
		mode = AddressingPN
	}
	if mode != AddressingPN && mode != AddressingLID {
		return types.EmptyJID, fmt.Errorf("%w: addressing mode %q", ErrBadGroupSpec, mode)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ownerPhone := s.phoneFor(owner)
	if ownerPhone == nil {
		return types.EmptyJID, fmt.Errorf("%w: owner %s is not a simulated phone", ErrBadGroupSpec, owner)
	}
	g := &group{
		jid: types.NewJID(newGroupID(), types.GroupServer), name: name, mode: mode, created: time.Now(), owner: ownerPhone,
		members: make([]member, 0, len(numbers)+1),
	}
	g.members = append(g.members, member{phone: ownerPhone, admin: "superadmin"})
	seen := map[*Phone]bool{ownerPhone: true}
	for _, n := range numbers {
		p := s.phones[n]
		if p == nil {
			p = s.lightPhoneLocked(n)
		}
		if !seen[p] {
			seen[p] = true
			g.members = append(g.members, member{phone: p})
		}
	}
	s.groups[g.jid] = g
	return g.jid, nil
}

// lightPhoneLocked adds a phone without Signal keys. Callers hold s.mu.
func (s *Simulator) lightPhoneLocked(number string) *Phone {
	lid := ""
	for lid == "" || s.phonesByLID[lid] != nil {
		lid = strconv.FormatUint(s.nextLID, 10)
		s.nextLID++
	}
	p := &Phone{
		Number: "+" + number, JID: types.NewJID(number, types.DefaultUserServer),
		LID: types.NewJID(lid, types.HiddenUserServer), Platform: "android",
	}
	s.phones[number] = p
	s.phonesByLID[lid] = p
	return p
}
