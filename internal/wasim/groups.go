package wasim

import (
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"time"

	waBinary "go.mau.fi/whatsmeow/binary"
	"go.mau.fi/whatsmeow/types"
)

// Group addressing modes, as WhatsApp reports them in addressing_mode.
const (
	AddressingPN  = "pn"
	AddressingLID = "lid"
)

// ErrBadGroupSpec means AddGroup was given an owner or participant the
// simulator cannot place.
var ErrBadGroupSpec = errors.New("wasim: invalid group spec")

// Participant is a group member as AddGroup takes it. Phone, LID or both
// may be set; a number the simulator has not seen becomes a new simulated
// phone with a fresh LID, so every member has both identities, as on
// WhatsApp.
type Participant struct {
	Phone types.JID
	LID   types.JID
	Admin bool
}

// GroupSpec describes a group to create with AddGroup.
type GroupSpec struct {
	Name         string
	Topic        string
	Participants []Participant
	// AddressingMode is AddressingPN (default) or AddressingLID: whether
	// members are listed by phone number with a lid attribute, or by LID
	// with a phone_number attribute.
	AddressingMode string
}

// group is a group as the server stores it.
type group struct {
	jid     types.JID
	name    string
	topic   string
	mode    string
	created time.Time
	owner   *Phone
	members []member
	extra   groupExtra // flags and hidden numbers (groupscrape.go)
}

type member struct {
	phone *Phone
	admin string // "", "admin" or "superadmin"
}

// AddGroup creates a group owned by the account of owner (a phone-number
// JID of a simulated phone) with the given members; the owner is a member
// and superadmin. It returns the group's JID.
func (s *Simulator) AddGroup(owner types.JID, spec GroupSpec) (types.JID, error) {
	if spec.AddressingMode == "" {
		spec.AddressingMode = AddressingPN
	}
	if spec.AddressingMode != AddressingPN && spec.AddressingMode != AddressingLID {
		return types.EmptyJID, fmt.Errorf("%w: addressing mode %q", ErrBadGroupSpec, spec.AddressingMode)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ownerPhone := s.phoneFor(owner)
	if ownerPhone == nil {
		return types.EmptyJID, fmt.Errorf("%w: owner %s is not a simulated phone", ErrBadGroupSpec, owner)
	}
	g := &group{
		jid:     types.NewJID(newGroupID(), types.GroupServer),
		name:    spec.Name,
		topic:   spec.Topic,
		mode:    spec.AddressingMode,
		created: time.Now(),
		owner:   ownerPhone,
		members: []member{{phone: ownerPhone, admin: "superadmin"}},
	}
	seen := map[*Phone]bool{ownerPhone: true}
	for _, p := range spec.Participants {
		phone, err := s.participantPhoneLocked(p)
		if err != nil {
			return types.EmptyJID, err
		}
		if seen[phone] {
			continue
		}
		seen[phone] = true
		m := member{phone: phone}
		if p.Admin {
			m.admin = "admin"
		}
		g.members = append(g.members, m)
	}
	s.groups[g.jid] = g
	return g.jid, nil
}

// participantPhoneLocked finds or creates the simulated phone behind a
// participant. Callers hold s.mu.
func (s *Simulator) participantPhoneLocked(p Participant) (*Phone, error) {
	var byPN, byLID *Phone
	if !p.Phone.IsEmpty() {
		if p.Phone.Server != types.DefaultUserServer {
			return nil, fmt.Errorf("%w: participant phone %s", ErrBadGroupSpec, p.Phone)
		}
		byPN = s.phones[p.Phone.User]
	}
	if !p.LID.IsEmpty() {
		if p.LID.Server != types.HiddenUserServer {
			return nil, fmt.Errorf("%w: participant lid %s", ErrBadGroupSpec, p.LID)
		}
		byLID = s.phonesByLID[p.LID.User]
	}
	switch {
	case byPN != nil && byLID != nil && byPN != byLID:
		return nil, fmt.Errorf("%w: %s and %s are different accounts", ErrBadGroupSpec, p.Phone, p.LID)
	case byPN != nil:
		if !p.LID.IsEmpty() && byPN.LID.User != p.LID.User {
			return nil, fmt.Errorf("%w: %s already has LID %s", ErrBadGroupSpec, p.Phone, byPN.LID)
		}
		return byPN, nil
	case byLID != nil:
		if !p.Phone.IsEmpty() && byLID.JID.User != p.Phone.User {
			return nil, fmt.Errorf("%w: %s already has number %s", ErrBadGroupSpec, p.LID, byLID.JID)
		}
		return byLID, nil
	case p.Phone.IsEmpty() && p.LID.IsEmpty():
		return nil, fmt.Errorf("%w: participant without phone or lid", ErrBadGroupSpec)
	}
	return s.adoptPhoneLocked(p.Phone.User, p.LID.User), nil
}

func newGroupID() string {
	n, _ := rand.Int(rand.Reader, big.NewInt(1e12))
	return "120363" + fmt.Sprintf("%012d", n.Int64())
}

// handleGroupIQ answers the w:g2 queries whatsmeow uses to list groups and
// read one; other group operations get an empty result.
func (c *conn) handleGroupIQ(node *waBinary.Node) error {
	if c.device == nil {
		return c.iqError(node, 401, "not-authorized")
	}
	me := c.device.phone
	if limited, err := c.groupRateLimited(node); limited {
		return err
	}
	if _, ok := node.GetOptionalChildByTag("participating"); ok {
		c.sim.mu.Lock()
		var list []waBinary.Node
		for _, g := range c.sim.groups {
			if g.has(me) {
				list = append(list, g.node())
			}
		}
		c.sim.mu.Unlock()
		return c.result(node, waBinary.Node{Tag: "groups", Content: list})
	}
	if _, ok := node.GetOptionalChildByTag("query"); ok {
		to, _ := node.Attrs["to"].(types.JID)
		c.sim.mu.Lock()
		g := c.sim.groups[to]
		var gn waBinary.Node
		member := g != nil && g.has(me)
		if member {
			gn = g.node()
		}
		c.sim.mu.Unlock()
		switch {
		case g == nil:
			return c.iqError(node, 404, "item-not-found")
		case !member:
			return c.iqError(node, 403, "forbidden")
		}
		return c.result(node, gn)
	}
	return c.result(node)
}

func (g *group) has(p *Phone) bool {
	for _, m := range g.members {
		if m.phone == p {
			return true
		}
	}
	return false
}

// node renders the group as WhatsApp does: in pn mode members are listed by
// phone number with their LID in a lid attribute, in lid mode by LID with
// their number in phone_number. Callers hold s.mu.
func (g *group) node() waBinary.Node {
	created := strconv.FormatInt(g.created.Unix(), 10)
	attrs := waBinary.Attrs{
		"id":              g.jid.User,
		"subject":         g.name,
		"s_t":             created,
		"creation":        created,
		"size":            len(g.members),
		"addressing_mode": g.mode,
	}
	if g.mode == AddressingLID {
		attrs["creator"] = g.owner.LID
		attrs["creator_pn"] = g.owner.JID
		attrs["s_o"] = g.owner.LID
		attrs["s_o_pn"] = g.owner.JID
	} else {
		attrs["creator"] = g.owner.JID
		attrs["s_o"] = g.owner.JID
	}
	children := make([]waBinary.Node, 0, len(g.members)+1)
	for _, m := range g.members {
		pa := waBinary.Attrs{}
		if g.mode == AddressingLID {
			pa["jid"] = m.phone.LID
			if !g.hides(m.phone) {
				pa["phone_number"] = m.phone.JID
			}
		} else {
			pa["jid"] = m.phone.JID
			pa["lid"] = m.phone.LID
		}
		if m.admin != "" {
			pa["type"] = m.admin
		}
		children = append(children, waBinary.Node{Tag: "participant", Attrs: pa})
	}
	children = append(children, g.extraNodes()...)
	if g.topic != "" {
		children = append(children, waBinary.Node{
			Tag:     "description",
			Attrs:   waBinary.Attrs{"id": "topic-" + g.jid.User, "t": created, "participant": g.owner.JID},
			Content: []waBinary.Node{{Tag: "body", Content: []byte(g.topic)}},
		})
	}
	return waBinary.Node{Tag: "group", Attrs: attrs, Content: children}
}
