package wasim

import (
	"fmt"
	"strconv"
	"time"

	waBinary "go.mau.fi/whatsmeow/binary"
	"go.mau.fi/whatsmeow/types"
)

// What scraping needs of the simulator beyond AddGroup: announce and
// community flags, members whose number the client learns only later, and
// rate-overlimit answers on command.

// groupExtra is what a group has beyond what AddGroup sets.
type groupExtra struct {
	announce  bool
	community bool
	// hidden members are listed by LID without their number (LID groups).
	hidden map[*Phone]bool
}

// groupLimits is the simulator's rate-overlimit state: per account (phone
// number user), how many group queries to refuse next.
type groupLimits struct {
	refuse map[string]int
	// queries counts every group query per account, refused or not.
	queries map[string]int
}

// SetGroupFlags marks a group as announce-only (only admins send) and/or
// as a community; whatsmeow reports them as IsAnnounce and IsParent.
func (s *Simulator) SetGroupFlags(jid types.JID, announce, community bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.groups[jid]
	if g == nil {
		return fmt.Errorf("%w: no group %s", ErrBadGroupSpec, jid)
	}
	g.extra.announce, g.extra.community = announce, community
	return nil
}

// HidePhone makes a member of a LID-addressed group listed by LID alone,
// without the phone_number attribute: the client does not learn the number
// from the group. RevealPhone tells it later.
func (s *Simulator) HidePhone(group, member types.JID) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.groups[group]
	if g == nil {
		return fmt.Errorf("%w: no group %s", ErrBadGroupSpec, group)
	}
	if g.mode != AddressingLID {
		return fmt.Errorf("%w: group %s lists members by number", ErrBadGroupSpec, group)
	}
	p := s.phoneFor(member)
	if p == nil || !g.has(p) {
		return fmt.Errorf("%w: %s is not a member of %s", ErrBadGroupSpec, member, group)
	}
	if g.extra.hidden == nil {
		g.extra.hidden = map[*Phone]bool{}
	}
	g.extra.hidden[p] = true
	return nil
}

// RevealPhone lets clients learn a hidden member's number: groups list it
// again, and every connected device of an account sharing a group with the
// member gets a devices notification carrying the LID → number pair, which
// whatsmeow stores in its LID store. It returns how many devices were told.
func (s *Simulator) RevealPhone(member types.JID) (int, error) {
	s.mu.Lock()
	p := s.phoneFor(member)
	if p == nil {
		s.mu.Unlock()
		return 0, fmt.Errorf("%w: %s is not a simulated phone", ErrBadGroupSpec, member)
	}
	peers := map[*Phone]bool{}
	for _, g := range s.groups {
		if !g.has(p) {
			continue
		}
		delete(g.extra.hidden, p)
		for _, m := range g.members {
			peers[m.phone] = true
		}
	}
	var conns []*conn
	for _, c := range s.live {
		if c.device != nil && peers[c.device.phone] {
			conns = append(conns, c)
		}
	}
	s.mu.Unlock()
	told := 0
	for _, c := range conns {
		err := c.send(waBinary.Node{Tag: "notification", Attrs: waBinary.Attrs{
			"id": s.newID(), "type": "devices", "from": p.JID, "lid": p.LID,
			"t": strconv.FormatInt(time.Now().Unix(), 10),
		}})
		if err == nil {
			told++
		}
	}
	return told, nil
}

// RateLimitGroups makes the next n group queries (list or one group) of
// the account of jid (a phone number) answer 429 rate-overlimit, as
// WhatsApp does when an account reads groups too fast.
func (s *Simulator) RateLimitGroups(jid types.JID, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.groupLimits.refuse == nil {
		s.groupLimits.refuse = map[string]int{}
	}
	s.groupLimits.refuse[jid.User] = n
}

// GroupQueries returns how many group queries the account of jid made.
func (s *Simulator) GroupQueries(jid types.JID) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.groupLimits.queries[jid.User]
}

// groupRateLimited counts a group query and answers it with
// rate-overlimit when the account is to be refused; ok says it answered.
func (c *conn) groupRateLimited(node *waBinary.Node) (bool, error) {
	if c.device == nil {
		return false, nil
	}
	user := c.device.phone.JID.User
	c.sim.mu.Lock()
	if c.sim.groupLimits.queries == nil {
		c.sim.groupLimits.queries = map[string]int{}
	}
	c.sim.groupLimits.queries[user]++
	refuse := c.sim.groupLimits.refuse[user] > 0
	if refuse {
		c.sim.groupLimits.refuse[user]--
	}
	c.sim.mu.Unlock()
	if !refuse {
		return false, nil
	}
	return true, c.iqError(node, 429, "rate-overlimit")
}

// extraNodes are the group's flag children; hides says whether a member's
// number is left out. Callers hold s.mu.
func (g *group) extraNodes() []waBinary.Node {
	var out []waBinary.Node
	if g.extra.announce {
		out = append(out, waBinary.Node{Tag: "announcement"})
	}
	if g.extra.community {
		out = append(out, waBinary.Node{Tag: "parent", Attrs: waBinary.Attrs{"default_membership_approval_mode": "request_required"}})
	}
	return out
}

func (g *group) hides(p *Phone) bool { return g.extra.hidden[p] }
