package contact

import (
	"testing"

	"wagraph/internal/apperr"
)

// FuzzParseCSV feeds the import's parser files from outside: it must
// return rows or a coded INVALID_INPUT error, never panic, and never give
// a row a line number outside the file.
func FuzzParseCSV(f *testing.F) {
	for _, seed := range []string{
		"phone,name\n+4915123456789,Ana\n",
		"\ufeffNumber;Name\n0151 23456789;\"A;\nB\"\n",
		"whatsapp\tlid\tcity\n+551198765432\t1@lid\tRio\n",
		"phone,attributes\n+4915123456789,\"{\"\"a\"\":\"\"b\"\"}\"\n",
		"phone,opted_out\n'+4915123456789,maybe\n",
		"\xff\xfep\x00",
		"phone\n\"unterminated\n",
		"name\nAna\n",
		"",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := parseCSV(data, 100)
		if err != nil {
			if apperr.CodeOf(err) != apperr.InvalidInput {
				t.Fatalf("error without INVALID_INPUT: %v", err)
			}
			return
		}
		lines := 1
		for _, b := range data {
			if b == '\n' {
				lines++
			}
		}
		for _, r := range file.Rows {
			if r.Line < 2 || r.Line > lines {
				t.Fatalf("row at line %d of a %d-line file", r.Line, lines)
			}
		}
		if len(file.Rows) > 100 {
			t.Fatalf("%d rows past the limit", len(file.Rows))
		}
	})
}
