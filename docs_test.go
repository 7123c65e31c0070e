package main

import (
	"os"
	"strings"
	"testing"

	"wagraph/internal/apperr"
	"wagraph/internal/config"
)

// The README's configuration table must list every setting with its default.
func TestReadmeListsEverySetting(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range config.Settings {
		def := "(unset)"
		if s.Default != "" {
			def = "`" + s.Default + "`"
		}
		row := "| `" + s.Env + "` | " + def + " |"
		if !strings.Contains(string(readme), row) {
			t.Errorf("README.md lacks the row for %s with default %s (want a line starting %q)", s.Env, def, row)
		}
	}
}

// docs/api.md must explain every error code a client can see.
func TestAPIDocsListEveryErrorCode(t *testing.T) {
	doc, err := os.ReadFile("docs/api.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range apperr.Codes() {
		if !strings.Contains(string(doc), "`"+string(c)+"`") {
			t.Errorf("docs/api.md does not explain error code %s", c)
		}
	}
}
