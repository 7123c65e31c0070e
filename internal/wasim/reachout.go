package wasim

import (
	"context"
	"encoding/json"
	"strconv"
	"time"

	waBinary "go.mau.fi/whatsmeow/binary"
	"go.mau.fi/whatsmeow/types"
)

// ReachoutTimelockQueryID is the id of WhatsApp's FetchReachoutTimelock
// GraphQL (mex) query, as WhatsApp Web sends it; the simulator answers it
// with the account's time-lock.
const ReachoutTimelockQueryID = "23983697327930364"

// reachoutUpdateOp is the op_name of the mex notification WhatsApp sends
// when an account's reach-out time-lock is set or lifted.
const reachoutUpdateOp = "NotificationUserReachoutTimelockUpdate"

// notificationAckWait bounds the wait for a client to acknowledge a
// notification.
const notificationAckWait = time.Second

// reachoutLock is an account's reach-out time-lock: no new chats until.
type reachoutLock struct {
	until       time.Time
	enforcement string
}

func (l reachoutLock) activeAt(t time.Time) bool { return t.Before(l.until) }

// ReachoutTimelock puts the account of jid under a reach-out time-lock
// until until (a zero until lifts it), with WhatsApp's enforcement type
// (e.g. DEFAULT). Its connected devices get the mex notification WhatsApp
// sends (NotificationUserReachoutTimelockUpdate), and the FetchReachoutTimelock
// query answers with the lock from now on. It returns once the devices
// acknowledged the notification (or a second passed). It does not make sends fail:
// RejectSends(jid, 463) does that.
func (s *Simulator) ReachoutTimelock(jid types.JID, until time.Time, enforcement string) error {
	s.mu.Lock()
	devs := s.matchDevices(jid)
	if len(devs) == 0 {
		s.mu.Unlock()
		return ErrNoDevice
	}
	if s.reachout == nil {
		s.reachout = map[string]reachoutLock{}
	}
	lock := reachoutLock{until: until, enforcement: enforcement}
	var conns []*conn
	for _, d := range devs {
		s.reachout[d.User] = lock
		if c := s.live[d]; c != nil {
			conns = append(conns, c)
		}
	}
	s.mu.Unlock()
	for _, c := range conns {
		note := waBinary.Node{Tag: "notification", Attrs: waBinary.Attrs{
			"type": "mex", "from": types.ServerJID, "t": strconv.FormatInt(time.Now().Unix(), 10),
		}, Content: []waBinary.Node{{
			Tag:     "update",
			Attrs:   waBinary.Attrs{"op_name": reachoutUpdateOp},
			Content: reachoutJSON("xwa2_notify_account_reachout_timelock", lock, time.Now()),
		}}}
		// Wait for the client's ack, as WhatsApp's delivery would: whatsmeow
		// sends it from a goroutine of its own, which races (inside
		// whatsmeow) with its socket closing, so a Drop right after must
		// not cut the socket under it.
		ctx, cancel := context.WithTimeout(context.Background(), notificationAckWait)
		if _, err := c.request(ctx, note); err != nil {
			c.log.Debug().Err(err).Msg("send reach-out time-lock notification")
		}
		cancel()
	}
	return nil
}

// reachoutJSON is the GraphQL response WhatsApp gives for a time-lock
// under root: {"data":{root:{"is_active":…,"time_enforcement_ends":"<unix>","enforcement_type":…}}}.
func reachoutJSON(root string, l reachoutLock, now time.Time) []byte {
	state := map[string]any{"is_active": false, "enforcement_type": "DEFAULT"}
	if l.activeAt(now) {
		state["is_active"] = true
		state["time_enforcement_ends"] = strconv.FormatInt(l.until.Unix(), 10)
		if l.enforcement != "" {
			state["enforcement_type"] = l.enforcement
		}
	}
	b, _ := json.Marshal(map[string]any{"data": map[string]any{root: state}}) // plain maps always marshal
	return b
}

// handleMexIQ answers WhatsApp's GraphQL-over-IQ queries: the reach-out
// time-lock of the device's account; any other query an empty result.
func (c *conn) handleMexIQ(node *waBinary.Node) error {
	q, ok := node.GetOptionalChildByTag("query")
	if !ok || c.device == nil || q.AttrGetter().OptionalString("query_id") != ReachoutTimelockQueryID {
		return c.result(node)
	}
	c.sim.mu.Lock()
	lock := c.sim.reachout[c.device.jid.User]
	c.sim.mu.Unlock()
	return c.result(node, waBinary.Node{Tag: "result", Content: reachoutJSON("xwa2_fetch_account_reachout_timelock", lock, time.Now())})
}
