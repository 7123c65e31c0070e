package wasim

import (
	"encoding/binary"

	waBinary "go.mau.fi/whatsmeow/binary"
	"go.mau.fi/whatsmeow/types"
)

// handle dispatches one node from the client.
func (c *conn) handle(node *waBinary.Node) {
	switch node.Tag {
	case "iq":
		c.handleIQ(node)
	case "message":
		c.handleMessage(node)
	case "ack":
		c.deliver(node) // to a notification waiting for it (ReachoutTimelock)
	case "receipt", "presence", "chatstate", "call":
		// Accepted and dropped: the simulated phones do not react to them.
	default:
		c.log.Debug().Str("tag", node.Tag).Msg("ignored node")
	}
}

// handleIQ answers a client IQ. Unknown queries get an empty result, which
// keeps whatsmeow's background requests from timing out.
func (c *conn) handleIQ(node *waBinary.Node) {
	typ, _ := node.Attrs["type"].(string)
	if typ == "result" || typ == "error" {
		c.deliver(node)
		return
	}
	xmlns, _ := node.Attrs["xmlns"].(string)
	var err error
	switch xmlns {
	case "encrypt":
		err = c.handleEncryptIQ(node)
	case "w:g2":
		err = c.handleGroupIQ(node)
	case "usync":
		err = c.handleUsync(node)
	case "md":
		err = c.handleMultiDeviceIQ(node)
	case "w:mex":
		err = c.handleMexIQ(node)
	default:
		err = c.result(node)
	}
	if err != nil {
		c.log.Debug().Err(err).Str("xmlns", xmlns).Msg("answer iq")
	}
}

// result answers an IQ with type=result and the given children.
func (c *conn) result(req *waBinary.Node, children ...waBinary.Node) error {
	resp := waBinary.Node{Tag: "iq", Attrs: c.replyAttrs(req, "result")}
	if len(children) > 0 {
		resp.Content = children
	}
	return c.send(resp)
}

// iqError answers an IQ with a WhatsApp error code such as 404 or 403.
func (c *conn) iqError(req *waBinary.Node, code int, text string) error {
	return c.send(waBinary.Node{
		Tag:     "iq",
		Attrs:   c.replyAttrs(req, "error"),
		Content: []waBinary.Node{{Tag: "error", Attrs: waBinary.Attrs{"code": code, "text": text}}},
	})
}

func (c *conn) replyAttrs(req *waBinary.Node, typ string) waBinary.Attrs {
	from := types.ServerJID
	if to, ok := req.Attrs["to"].(types.JID); ok {
		from = to
	}
	return waBinary.Attrs{"id": req.Attrs["id"], "type": typ, "from": from}
}

// handleEncryptIQ serves the Signal key directory: prekey counts, uploads
// and bundle fetches.
func (c *conn) handleEncryptIQ(node *waBinary.Node) error {
	if _, ok := node.GetOptionalChildByTag("count"); ok {
		c.sim.mu.Lock()
		n := 0
		if c.device != nil {
			n = len(c.device.preKeys)
		}
		c.sim.mu.Unlock()
		return c.result(node, waBinary.Node{Tag: "count", Attrs: waBinary.Attrs{"value": n}})
	}
	if key, ok := node.GetOptionalChildByTag("key"); ok {
		return c.result(node, waBinary.Node{Tag: "list", Content: c.sim.preKeyBundles(key.GetChildren())})
	}
	if _, ok := node.GetOptionalChildByTag("list"); ok {
		c.storePreKeys(node)
		return c.result(node)
	}
	return c.result(node)
}

// storePreKeys records an upload so that the prekey count the client asks
// for next matches what it sent.
func (c *conn) storePreKeys(node *waBinary.Node) {
	if c.device == nil {
		return
	}
	list := node.GetChildByTag("list")
	c.sim.mu.Lock()
	defer c.sim.mu.Unlock()
	for _, k := range list.GetChildren() {
		if rec, ok := parsePreKey(k); ok {
			c.device.preKeys[rec.id] = rec.pub
		}
	}
	if rec, ok := parsePreKey(node.GetChildByTag("skey")); ok {
		c.device.signedPreKey = rec
	}
}

func parsePreKey(n waBinary.Node) (preKeyRecord, bool) {
	id, _ := n.GetChildByTag("id").Content.([]byte)
	pub, _ := n.GetChildByTag("value").Content.([]byte)
	if len(id) != 3 || len(pub) != 32 {
		return preKeyRecord{}, false
	}
	sig, _ := n.GetChildByTag("signature").Content.([]byte)
	return preKeyRecord{id: binary.BigEndian.Uint32(append([]byte{0}, id...)), pub: pub, sig: sig}, true
}

// handleMultiDeviceIQ serves the "md" namespace: pairing-code stages and
// a companion removing itself.
func (c *conn) handleMultiDeviceIQ(node *waBinary.Node) error {
	if reg, ok := node.GetOptionalChildByTag("link_code_companion_reg"); ok {
		return c.handleLinkCodeIQ(node, &reg)
	}
	if _, ok := node.GetOptionalChildByTag("remove-companion-device"); ok && c.device != nil {
		c.sim.mu.Lock()
		delete(c.sim.devices, c.device.jid)
		c.sim.mu.Unlock()
	}
	return c.result(node)
}
