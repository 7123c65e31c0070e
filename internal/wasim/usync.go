package wasim

import (
	"encoding/binary"
	"slices"
	"strings"

	waBinary "go.mau.fi/whatsmeow/binary"
	"go.mau.fi/whatsmeow/types"
)

// handleUsync answers user-sync queries: device lists (used before every
// send), contact lookups (IsOnWhatsApp) and LIDs. Numbers that are not
// simulated phones are reported as not on WhatsApp, with no devices.
func (c *conn) handleUsync(node *waBinary.Node) error {
	us := node.GetChildByTag("usync")
	queryNode, listNode := us.GetChildByTag("query"), us.GetChildByTag("list")
	query, users := queryNode.GetChildren(), listNode.GetChildren()
	out := make([]waBinary.Node, 0, len(users))
	c.sim.mu.Lock()
	for _, u := range users {
		out = append(out, c.sim.usyncUser(u, query))
	}
	c.sim.mu.Unlock()
	attrs := waBinary.Attrs{"last": "true", "index": "0"}
	for _, k := range []string{"sid", "mode", "context"} {
		if v, ok := us.Attrs[k]; ok {
			attrs[k] = v
		}
	}
	return c.result(node, waBinary.Node{Tag: "usync", Attrs: attrs, Content: []waBinary.Node{
		{Tag: "result"},
		{Tag: "list", Content: out},
	}})
}

// usyncUser answers one <user> of a usync query. Callers hold s.mu.
func (s *Simulator) usyncUser(u waBinary.Node, query []waBinary.Node) waBinary.Node {
	jid, hasJID := u.Attrs["jid"].(types.JID)
	contact, hasContact := u.GetOptionalChildByTag("contact")
	var phone *Phone
	if hasJID {
		jid = jid.ToNonAD()
		phone = s.phoneFor(jid)
	} else if hasContact {
		number := contactNumber(contact)
		phone = s.phones[number]
		jid = types.NewJID(number, types.DefaultUserServer)
		if phone != nil {
			jid = phone.JID
		}
	}
	var children []waBinary.Node
	for _, q := range query {
		switch q.Tag {
		case "devices":
			children = append(children, s.deviceListNode(phone))
		case "contact":
			typ := "out"
			if phone != nil {
				typ = "in"
			}
			n := waBinary.Node{Tag: "contact", Attrs: waBinary.Attrs{"type": typ}}
			if hasContact {
				n.Content = contact.Content
			}
			children = append(children, n)
		case "lid":
			if phone != nil {
				children = append(children, waBinary.Node{Tag: "lid", Attrs: waBinary.Attrs{"val": phone.LID}})
			}
		}
	}
	return waBinary.Node{Tag: "user", Attrs: waBinary.Attrs{"jid": jid}, Content: children}
}

// contactNumber extracts the digits of a contact query such as
// "+1 555-0100@c.us".
func contactNumber(n waBinary.Node) string {
	var raw string
	switch v := n.Content.(type) {
	case []byte:
		raw = string(v)
	case string:
		raw = v
	}
	raw, _, _ = strings.Cut(raw, "@")
	return digits(raw)
}

// deviceListNode lists the phone (device 0) and its linked companions.
// Callers hold s.mu.
func (s *Simulator) deviceListNode(phone *Phone) waBinary.Node {
	var list []waBinary.Node
	if phone != nil {
		list = append(list, waBinary.Node{Tag: "device", Attrs: waBinary.Attrs{"id": "0"}})
		var ids []int
		for dj, d := range s.devices {
			if d.phone == phone {
				ids = append(ids, int(dj.Device))
			}
		}
		slices.Sort(ids)
		for _, id := range ids {
			list = append(list, waBinary.Node{Tag: "device", Attrs: waBinary.Attrs{"id": id, "key-index": "1"}})
		}
	}
	return waBinary.Node{Tag: "devices", Content: []waBinary.Node{{Tag: "device-list", Content: list}}}
}

// preKeyBundles answers a prekey fetch for the devices listed in users:
// simulated phones hand out their own keys (one one-time prekey per fetch),
// linked companions the keys they uploaded.
func (s *Simulator) preKeyBundles(users []waBinary.Node) []waBinary.Node {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]waBinary.Node, 0, len(users))
	for _, u := range users {
		jid, ok := u.Attrs["jid"].(types.JID)
		if !ok {
			continue
		}
		out = append(out, waBinary.Node{Tag: "user", Attrs: waBinary.Attrs{"jid": jid}, Content: s.bundleLocked(jid)})
	}
	return out
}

func (s *Simulator) bundleLocked(jid types.JID) []waBinary.Node {
	phone := s.phoneFor(jid)
	if phone != nil && jid.Device == 0 {
		var one *preKeyRecord
		if k := phone.takePreKey(); k != nil {
			one = &preKeyRecord{id: k.KeyID, pub: k.Pub[:]}
		}
		spk := phone.signedPreKey
		return bundleNodes(phone.registrationID, phone.identity.Pub[:], one,
			preKeyRecord{id: spk.KeyID, pub: spk.Pub[:], sig: spk.Signature[:]})
	}
	if phone != nil {
		for _, d := range s.devices {
			if d.phone == phone && d.jid.Device == jid.Device {
				var one *preKeyRecord
				for id, pub := range d.preKeys {
					one = &preKeyRecord{id: id, pub: pub}
					delete(d.preKeys, id)
					break
				}
				return bundleNodes(d.registrationID, d.identityPub, one, d.signedPreKey)
			}
		}
	}
	return []waBinary.Node{{Tag: "error", Attrs: waBinary.Attrs{"code": "404", "text": "item-not-found"}}}
}

func bundleNodes(regID uint32, identity []byte, one *preKeyRecord, signed preKeyRecord) []waBinary.Node {
	var reg [4]byte
	binary.BigEndian.PutUint32(reg[:], regID)
	nodes := []waBinary.Node{
		{Tag: "registration", Content: reg[:]},
		{Tag: "type", Content: []byte{5}},
		{Tag: "identity", Content: identity},
	}
	if one != nil {
		nodes = append(nodes, waBinary.Node{Tag: "key", Content: []waBinary.Node{
			{Tag: "id", Content: keyID(one.id)},
			{Tag: "value", Content: one.pub},
		}})
	}
	return append(nodes, waBinary.Node{Tag: "skey", Content: []waBinary.Node{
		{Tag: "id", Content: keyID(signed.id)},
		{Tag: "value", Content: signed.pub},
		{Tag: "signature", Content: signed.sig},
	}})
}

func keyID(id uint32) []byte {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], id)
	return b[1:]
}
