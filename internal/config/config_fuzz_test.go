package config_test

import (
	"strings"
	"testing"

	"wagraph/internal/config"
)

// Settings come from operators' environments and flags. Whatever one setting
// holds (the others at their defaults), Load does not panic, and an error
// names that setting so the operator knows what to fix.
func FuzzLoad(f *testing.F) {
	values := []string{
		"", " ", "true", "TRUE", "1", "yes", "0", "-1", "99999999999999999999999", "9223372036854775807",
		"1e3", "0x10", "10s", "-5m", "0s", "1ns", "999999999h", "5", "abc", "\x00", "\xff\xfe", "\u202e10s",
		"127.0.0.1:8080", "0.0.0.0:99999", "[::1]:8080", ":", "localhost:http", "host",
		"redis://127.0.0.1:6379/0", "redis://u:p@@h:1/0", "redis://%zz", "http://x", "rediss://h",
		"sqlite:./data/x.db", "postgres://u:p@h/db", "https://a.example.com, http://b:8080/", "a.example.com", ",,,",
		"debug", "json", "console", "Info",
	}
	for i := range config.Settings {
		for _, v := range values {
			f.Add(uint8(i), v)
		}
	}
	f.Fuzz(func(t *testing.T, setting uint8, value string) {
		s := config.Settings[int(setting)%len(config.Settings)]
		_, err := config.Load(nil, env{s.Env: value}.get)
		if err != nil && !strings.Contains(err.Error(), s.Env) {
			t.Fatalf("%s=%q: the error does not name %s: %v", s.Env, value, s.Env, err)
		}
	})
}

// The flags name their setting in errors too (--listen is LISTEN_ADDR,
// --log-level is LOG_LEVEL, --simulate is SIMULATE).
func FuzzLoadFlags(f *testing.F) {
	flags := []struct{ flag, setting string }{
		{"listen", "LISTEN_ADDR"}, {"log-level", "LOG_LEVEL"}, {"simulate", "simulate"},
	}
	for i := range flags {
		for _, v := range []string{"127.0.0.1:0", "nope", "true", "false", "", "\x00", ":::", "debug", "2"} {
			f.Add(uint8(i), v)
		}
	}
	f.Fuzz(func(t *testing.T, which uint8, value string) {
		fl := flags[int(which)%len(flags)]
		_, err := config.Load([]string{"--" + fl.flag + "=" + value}, env{}.get)
		if err != nil && !strings.Contains(err.Error(), fl.setting) {
			t.Fatalf("--%s=%q: the error does not name %s: %v", fl.flag, value, fl.setting, err)
		}
	})
}
