package wasim

import (
	"strconv"
	"time"

	waBinary "go.mau.fi/whatsmeow/binary"
	"go.mau.fi/whatsmeow/proto/waWa6"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
)

// login handles a client that presents a stored identity. A device the
// server does not know (never paired, or logged out) gets a 401 connect
// failure, a banned one 402; anything else gets <success>. A second login of
// the same device replaces the first stream, as on WhatsApp.
func (c *conn) login(p *waWa6.ClientPayload) bool {
	jid := types.JID{
		User:   strconv.FormatUint(p.GetUsername(), 10),
		Device: uint16(p.GetDevice()),
		Server: types.DefaultUserServer,
	}
	log := c.log.With().Stringer("device", jid).Logger()
	c.log = log
	s := c.sim
	s.mu.Lock()
	d := s.devices[jid]
	ban, banned := s.bans[jid]
	if banned && time.Now().After(ban.until) {
		delete(s.bans, jid)
		banned = false
	}
	if d == nil || !c.matchesNoiseKey(d.noisePub) {
		s.mu.Unlock()
		log.Info().Msg("login refused: unknown device")
		c.endWith(failureNode(events.ConnectFailureLoggedOut))
		return false
	}
	if banned {
		s.mu.Unlock()
		log.Info().Int("code", ban.code).Msg("login refused: temporary ban")
		c.endWith(tempBanNode(ban))
		return false
	}
	old := s.live[jid]
	c.device = d
	s.live[jid] = c
	s.countLoginLocked(jid, old != nil)
	s.mu.Unlock()
	if old != nil {
		old.endWith(replacedNode())
	}
	if err := c.send(waBinary.Node{Tag: "success", Attrs: waBinary.Attrs{
		"t":        strconv.FormatInt(time.Now().Unix(), 10),
		"props":    "1",
		"abprops":  "1",
		"location": "sim",
		"creation": strconv.FormatInt(time.Now().Unix(), 10),
		"lid":      d.lid,
	}}); err != nil {
		log.Debug().Err(err).Msg("send success")
		return false
	}
	log.Info().Msg("logged in")
	return true
}

func failureNode(reason events.ConnectFailureReason) waBinary.Node {
	return waBinary.Node{Tag: "failure", Attrs: waBinary.Attrs{"reason": int(reason), "location": "sim"}}
}

func tempBanNode(ban tempBan) waBinary.Node {
	n := failureNode(events.ConnectFailureTempBanned)
	n.Attrs["code"] = ban.code
	n.Attrs["expire"] = int(max(time.Until(ban.until).Round(time.Second)/time.Second, 0))
	return n
}

func replacedNode() waBinary.Node {
	return waBinary.Node{Tag: "stream:error", Content: []waBinary.Node{
		{Tag: "conflict", Attrs: waBinary.Attrs{"type": "replaced"}},
	}}
}

func deviceRemovedNode() waBinary.Node {
	return waBinary.Node{Tag: "stream:error", Attrs: waBinary.Attrs{"code": "401"}, Content: []waBinary.Node{
		{Tag: "conflict", Attrs: waBinary.Attrs{"type": "device_removed"}},
	}}
}
