package config_test

import (
	"strings"
	"testing"

	"wagraph/internal/config"
)

// configFlags are the flags with the setting their errors name.
var configFlags = []struct{ flag, setting string }{
	{"listen", "LISTEN_ADDR"}, {"log-level", "LOG_LEVEL"}, {"simulate", "simulate"},
}

// Settings come from operators' environments and flags. Whatever one setting
// or flag holds (the rest at their defaults), Load does not panic, and an
// error names that setting so the operator knows what to fix. which picks an
// environment variable of config.Settings, or past them a flag.
func FuzzLoad(f *testing.F) {
	values := []string{
		"", " ", "true", "TRUE", "1", "yes", "0", "-1", "99999999999999999999999", "9223372036854775807",
		"1e3", "0x10", "10s", "-5m", "0s", "1ns", "999999999h", "5", "abc", "\x00", "\xff\xfe", "\u202e10s",
		"127.0.0.1:8080", "0.0.0.0:99999", "[::1]:8080", ":", "localhost:http", "host",
		"redis://127.0.0.1:6379/0", "redis://u:p@@h:1/0", "redis://%zz", "http://x", "rediss://h",
		"sqlite:./data/x.db", "postgres://u:p@h/db", "https://a.example.com, http://b:8080/", "a.example.com", ",,,",
		"debug", "json", "console", "Info",
	}
	for i := range len(config.Settings) + len(configFlags) {
		for _, v := range values {
			f.Add(uint8(i), v)
		}
	}
	f.Fuzz(func(t *testing.T, which uint8, value string) {
		i := int(which) % (len(config.Settings) + len(configFlags))
		if i < len(config.Settings) {
			s := config.Settings[i]
			if _, err := config.Load(nil, env{s.Env: value}.get); err != nil && !strings.Contains(err.Error(), s.Env) {
				t.Fatalf("%s=%q: the error does not name %s: %v", s.Env, value, s.Env, err)
			}
			return
		}
		fl := configFlags[i-len(config.Settings)]
		if _, err := config.Load([]string{"--" + fl.flag + "=" + value}, env{}.get); err != nil && !strings.Contains(err.Error(), fl.setting) {
			t.Fatalf("--%s=%q: the error does not name %s: %v", fl.flag, value, fl.setting, err)
		}
	})
}
