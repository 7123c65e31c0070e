package wasim

import (
	"encoding/json"
	"strconv"
	"testing"
	"time"
)

// The time-lock as whatsmeow's client reads it with the FetchReachoutTimelock
// mex query, before, during and after a lock; the notification sent when it
// is set reaches the client without breaking its connection.
func TestReachoutTimelockQuery(t *testing.T) {
	sim := newSim(t)
	cli, _, _, _ := pairedClient(t, sim)
	type state struct {
		IsActive bool   `json:"is_active"`
		Ends     string `json:"time_enforcement_ends"`
		Type     string `json:"enforcement_type"`
	}
	query := func() state {
		t.Helper()
		data, err := cli.DangerousInternals().SendMexIQ(t.Context(), ReachoutTimelockQueryID, map[string]any{})
		if err != nil {
			t.Fatalf("SendMexIQ: %v", err)
		}
		var resp struct {
			Lock state `json:"xwa2_fetch_account_reachout_timelock"`
		}
		if err := json.Unmarshal(data, &resp); err != nil {
			t.Fatalf("%s: %v", data, err)
		}
		return resp.Lock
	}
	if s := query(); s.IsActive || s.Ends != "" {
		t.Fatalf("before any lock: %+v", s)
	}
	until := time.Now().Add(3 * time.Hour).Truncate(time.Second)
	if err := sim.ReachoutTimelock(*cli.Store.ID, until, "BIZ_QUALITY"); err != nil {
		t.Fatal(err)
	}
	if s := query(); !s.IsActive || s.Ends != strconv.FormatInt(until.Unix(), 10) || s.Type != "BIZ_QUALITY" {
		t.Fatalf("during the lock: %+v, want active until %d", s, until.Unix())
	}
	if !cli.IsConnected() {
		t.Fatal("the notification broke the connection")
	}
	if err := sim.ReachoutTimelock(*cli.Store.ID, time.Time{}, ""); err != nil {
		t.Fatal(err)
	}
	if s := query(); s.IsActive {
		t.Fatalf("after lifting: %+v", s)
	}
	if err := sim.ReachoutTimelock(sim.NewPhone().JID, until, ""); err != ErrNoDevice {
		t.Fatalf("a phone without devices: %v, want ErrNoDevice", err)
	}
}
