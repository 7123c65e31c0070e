package whatsapp

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"go.mau.fi/whatsmeow"
)

func TestSendRefusalCode(t *testing.T) {
	for _, c := range []struct {
		err  error
		want int
	}{
		{nil, 0},
		{errors.New("server returned error 463"), 0}, // not whatsmeow's error value
		{fmt.Errorf("%w %d", whatsmeow.ErrServerReturnedError, 463), 463},
		{fmt.Errorf("send: %w", fmt.Errorf("%w %d", whatsmeow.ErrServerReturnedError, 479)), 479},
		{fmt.Errorf("%w", whatsmeow.ErrServerReturnedError), 0},
		{fmt.Errorf("%w 99999", whatsmeow.ErrServerReturnedError), 0},
		{whatsmeow.ErrNotConnected, 0},
	} {
		if got := sendRefusalCode(c.err); got != c.want {
			t.Errorf("sendRefusalCode(%v) = %d, want %d", c.err, got, c.want)
		}
	}
}

func TestParseReachoutTimelock(t *testing.T) {
	ends := time.Unix(1798675200, 0).UTC()
	for _, c := range []struct {
		in   string
		want reachoutTimelock
		err  bool
	}{
		{`{"xwa2_fetch_account_reachout_timelock":{"is_active":true,"time_enforcement_ends":"1798675200","enforcement_type":"BIZ_QUALITY"}}`, reachoutTimelock{true, ends, "BIZ_QUALITY"}, false},
		{`{"xwa2_fetch_account_reachout_timelock":{"is_active":true,"time_enforcement_ends":1798675200}}`, reachoutTimelock{true, ends, "DEFAULT"}, false},
		{`{"xwa2_fetch_account_reachout_timelock":{"is_active":false,"time_enforcement_ends":"0"}}`, reachoutTimelock{false, time.Time{}, "DEFAULT"}, false},
		{`{"xwa2_fetch_account_reachout_timelock":{"is_active":true}}`, reachoutTimelock{true, time.Time{}, "DEFAULT"}, false},
		{`{"xwa2_fetch_account_reachout_timelock":{"is_active":true,"time_enforcement_ends":"soon"}}`, reachoutTimelock{}, true},
		{`{"xwa2_fetch_account_reachout_timelock":{"is_active":true,"time_enforcement_ends":"-5"}}`, reachoutTimelock{}, true},
		{`{"something_else":{}}`, reachoutTimelock{}, true},
		{`not json`, reachoutTimelock{}, true},
	} {
		got, err := parseReachoutTimelock([]byte(c.in))
		if (err != nil) != c.err || got != c.want {
			t.Errorf("parse %s = %+v, %v; want %+v (error %v)", c.in, got, err, c.want, c.err)
		}
	}
}

func FuzzParseReachoutTimelock(f *testing.F) {
	f.Add([]byte(`{"xwa2_fetch_account_reachout_timelock":{"is_active":true,"time_enforcement_ends":"1798675200","enforcement_type":"DEFAULT"}}`))
	f.Add([]byte(`{"xwa2_fetch_account_reachout_timelock":{"is_active":false}}`))
	f.Add([]byte(`{"xwa2_fetch_account_reachout_timelock":{"time_enforcement_ends":1e30}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := parseReachoutTimelock(data)
		if err != nil {
			return
		}
		if got.Enforcement == "" || len(got.Enforcement) > 64 {
			t.Fatalf("enforcement %q", got.Enforcement)
		}
		if !got.Ends.IsZero() && (got.Ends.Year() < 1970 || got.Ends.Year() > 9999) {
			t.Fatalf("end %v", got.Ends)
		}
	})
}
