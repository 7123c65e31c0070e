package config_test

import (
	"strings"
	"testing"
)

// SIMULATE is a boolean for the in-process simulator or the address of a
// shared one (`wagraph simulator`).
func TestSimulateAddress(t *testing.T) {
	tests := []struct {
		name, value  string
		args         []string
		inProcess    bool
		url          string
		errorContain string
	}{
		{name: "host:port", value: "127.0.0.1:7900", url: "http://127.0.0.1:7900"},
		{name: "URL", value: "http://localhost:7900/", url: "http://localhost:7900"},
		{name: "IPv6", value: "[::1]:7900", url: "http://[::1]:7900"},
		{name: "true", value: "true", inProcess: true},
		{name: "false", value: "false"},
		{name: "the flag wins", value: "127.0.0.1:7900", args: []string{"--simulate"}, inProcess: true},
		{name: "a mistyped boolean", value: "yes", errorContain: `SIMULATE="yes": use true, false, or the address`},
		{name: "no port", value: "http://127.0.0.1", errorContain: "not a simulator address"},
		{name: "https", value: "https://127.0.0.1:7900", errorContain: "not a simulator address"},
		{name: "a path", value: "127.0.0.1:7900/v1", errorContain: "not a simulator address"},
		{name: "a port too large", value: "127.0.0.1:79000", errorContain: "port must be a number"},
		{name: "credentials", value: "http://u:p@127.0.0.1:7900", errorContain: "not a simulator address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := load(t, env{"SIMULATE": tt.value}, tt.args...)
			if tt.errorContain != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errorContain) {
					t.Fatalf("Load = %v, want an error with %q", err, tt.errorContain)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Simulate != tt.inProcess || c.SimulatorURL != tt.url {
				t.Errorf("Simulate %v SimulatorURL %q, want %v %q", c.Simulate, c.SimulatorURL, tt.inProcess, tt.url)
			}
			simulated := tt.inProcess || tt.url != ""
			if simulated != (c.DatabaseURL == "sqlite:./data/simulate.db") {
				t.Errorf("DatabaseURL %q: a simulated WhatsApp uses ./data/simulate.db, a real one ./data/wagraph.db", c.DatabaseURL)
			}
		})
	}
}
