package contact_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"wagraph/internal/apperr"
	"wagraph/internal/contact"
	"wagraph/internal/store"
	"wagraph/internal/store/storetest"
)

func importCSV(t *testing.T, s *contact.Service, in contact.ImportInput, text string) *contact.ImportReport {
	t.Helper()
	in.CSV = strings.NewReader(text)
	r, err := s.ImportCSV(context.Background(), in)
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	return r
}

func TestImportReport(t *testing.T) {
	storetest.RunDialects(t, func(t *testing.T, db *store.DB) {
		s, _ := newService(t, db)
		ctx := context.Background()
		p := must[*contact.Persona](t)(s.CreatePersona(ctx, "Imported", ""))
		// A LID-only contact the file's row 3 merges into its number.
		lidOnly, _ := upsert(t, s, contact.Observation{LID: "555@lid", PushName: "Cris", Source: group("acc1", "g@g.us")})
		crisPhone, _ := upsert(t, s, contact.Observation{Phone: "+351912345678", Source: contact.Source{Kind: contact.SourceManual}})
		// BOM, semicolons, a quoted line break, a national number (region
		// BR given for the import), an attribute column, a duplicate, bad
		// rows.
		file := "\ufeffNumber;Name;LID;City\n" +
			"+49 151 23456789;\"Ana\nSouza\";;Berlin\n" + // line 2-3
			"(11) 98765-4321;Bruno;;\"São Paulo\"\n" + // line 4
			"+351 912 345 678;Cris;555@lid;Porto\n" + // line 5: merges
			"0049 151 23456789;Ana again;;\n" + // line 6: duplicate of line 2
			"not a number;Dora;;\n" + // line 7
			";Empty;;\n" + // line 8
			"+1 800 123 4567;Toll free;;\n" // line 9
		r := importCSV(t, s, contact.ImportInput{PersonaIDs: []string{p.ID}, DefaultRegion: "BR"}, file)
		if r.RowsRead != 7 || r.Created != 2 || r.Merged != 1 || r.Duplicates != 1 || r.Invalid != 3 || r.Updated != 0 {
			t.Fatalf("report: %+v", r)
		}
		lines := map[int]string{}
		for _, e := range r.Errors {
			lines[e.Line] = e.Reason
		}
		if !strings.Contains(lines[6], "duplicate of line 2") || !strings.Contains(lines[7], "not a number") ||
			!strings.Contains(lines[8], "phone number or a LID") || !strings.Contains(lines[9], "not a valid phone number") || len(lines) != 4 {
			t.Fatalf("errors: %+v", r.Errors)
		}
		ana := must[*contact.Page](t)(s.List(ctx, contact.ListInput{Filter: contact.Filter{Search: "+4915123456789"}})).Contacts
		if len(ana) != 1 || ana[0].FullName != "Ana Souza" || ana[0].Attributes["City"] != "Berlin" {
			t.Fatalf("ana: %+v", ana)
		}
		cris := must[*contact.Contact](t)(s.Get(ctx, must[*contact.Page](t)(s.List(ctx, contact.ListInput{Filter: contact.Filter{Search: "351912345678"}})).Contacts[0].ID))
		if cris.LID != "555@lid" || cris.PushName != "Cris" || cris.ID != crisPhone.ID || cris.ID == lidOnly.ID || cris.Attributes["City"] != "Porto" {
			t.Fatalf("cris: %+v", cris)
		}
		if n := must[*contact.Persona](t)(s.GetPersona(ctx, p.ID)).ContactCount; n != 3 {
			t.Fatalf("persona has %d contacts, want 3", n)
		}
		// Importing the same file again changes nothing.
		again := importCSV(t, s, contact.ImportInput{PersonaIDs: []string{p.ID}, DefaultRegion: "BR"}, file)
		if again.Created != 0 || again.Updated != 0 || again.Merged != 0 || again.Unchanged != 3 {
			t.Fatalf("re-import: %+v", again)
		}
		// A dry run reports and writes nothing.
		dry := importCSV(t, s, contact.ImportInput{DryRun: true}, "phone\n+4915199999999\n")
		if dry.Created != 1 || !dry.DryRun {
			t.Fatalf("dry run: %+v", dry)
		}
		if n := must[*contact.Page](t)(s.List(ctx, contact.ListInput{Filter: contact.Filter{Search: "4915199999999"}})).TotalCount; n != 0 {
			t.Fatal("dry run wrote a contact")
		}
	})
}

func TestImportRefusesFiles(t *testing.T) {
	db := storetest.Open(t, store.SQLite)
	s := contact.New(db, contact.Options{Logger: zerolog.Nop(), MaxImportBytes: 200, MaxImportRows: 3})
	for name, tc := range map[string]struct{ file, want string }{
		"empty":      {"", "empty"},
		"no phone":   {"name,city\nAna,Berlin\n", `no phone number column; it has "name", "city"`},
		"utf16":      {"\xff\xfep\x00h\x00", "UTF-16"},
		"nul":        {"p\x00h\x00o\x00", "NUL"},
		"latin1":     {"phone,name\n+4915123456789,Jos\xe9\n", "line 2 is not UTF-8"},
		"too big":    {"phone\n" + strings.Repeat("+4915123456789\n", 20), "larger than 200 bytes"},
		"too many":   {"phone\n+4915123456781\n+4915123456782\n+4915123456783\n+4915123456784\n", "more than 3 rows"},
		"bare quote": {"phone,name\n+4915123456789,An\"a\n", "line 2"},
		"two phones": {"phone,mobile\n1,2\n", `"phone" and "mobile" both hold the phone`},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := s.ImportCSV(context.Background(), contact.ImportInput{CSV: strings.NewReader(tc.file)})
			e, ok := apperr.As(err)
			if !ok || e.Code != apperr.InvalidInput || !strings.Contains(e.Message, tc.want) || e.Suggestion == "" {
				t.Fatalf("got %v, want INVALID_INPUT with %q", err, tc.want)
			}
		})
	}
	if _, err := s.ImportCSV(context.Background(), contact.ImportInput{CSV: strings.NewReader("phone\n"), DefaultRegion: "XX"}); apperr.CodeOf(err) != apperr.InvalidInput {
		t.Fatalf("region XX: %v", err)
	}
}

func TestExportRoundTripAndFormulaEscaping(t *testing.T) {
	storetest.RunDialects(t, func(t *testing.T, db *store.DB) {
		s, _ := newService(t, db)
		ctx := context.Background()
		src := "phone,name,lid,note,opted_out\n" +
			"+4915123456789,\"=HYPERLINK(\"\"http://evil\"\")\",,@SUM(A1),no\n" +
			"+4915123456780,\"Bob, the \"\"builder\"\"\",777@lid,-2+3,yes\n" +
			",Lid Only,778@lid,\tTab,\n"
		r := importCSV(t, s, contact.ImportInput{}, src)
		if r.Created != 3 || r.Invalid != 0 {
			t.Fatalf("import: %+v", r)
		}
		var out bytes.Buffer
		n, err := s.ExportCSV(ctx, &out, contact.Filter{})
		if err != nil || n != 3 {
			t.Fatalf("export: %d %v", n, err)
		}
		recs, err := csv.NewReader(bytes.NewReader(out.Bytes())).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(recs[0], ",") != strings.Join(contact.ExportHeader, ",") {
			t.Fatalf("header: %v", recs[0])
		}
		// No cell may start a formula.
		for _, rec := range recs[1:] {
			for _, cell := range rec {
				if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
					t.Fatalf("unescaped cell %q in %v", cell, rec)
				}
			}
		}
		if recs[1][1] != "'+4915123456789" || recs[1][4] != `'=HYPERLINK("http://evil")` || recs[1][9] != `{"note":"@SUM(A1)"}` {
			t.Fatalf("row 1: %q", recs[1])
		}
		// Into a fresh database and out again: the same file.
		other, _ := newService(t, storetest.Open(t, db.Kind))
		back := importCSV(t, other, contact.ImportInput{}, out.String())
		if back.Created != 3 || back.Invalid != 0 {
			t.Fatalf("re-import: %+v", back)
		}
		var out2 bytes.Buffer
		if _, err := other.ExportCSV(ctx, &out2, contact.Filter{}); err != nil {
			t.Fatal(err)
		}
		recs2, _ := csv.NewReader(&out2).ReadAll()
		for i := 1; i < len(recs); i++ {
			for j := 1; j < len(recs[i]); j++ { // ids differ
				if recs[i][j] != recs2[i][j] {
					t.Fatalf("row %d column %s: %q then %q", i, contact.ExportHeader[j], recs[i][j], recs2[i][j])
				}
			}
		}
		// A filter narrows the export.
		out.Reset()
		if n, _ := s.ExportCSV(ctx, &out, contact.Filter{OptedOut: ptr(true)}); n != 1 || !strings.Contains(out.String(), "builder") {
			t.Fatalf("filtered export: %d %q", n, out.String())
		}
	})
}

func TestImportList(t *testing.T) {
	storetest.RunDialects(t, func(t *testing.T, db *store.DB) {
		s := contact.New(db, contact.Options{Logger: zerolog.Nop(), MaxImportRows: 3})
		ctx := context.Background()
		list := []contact.Observation{
			{Phone: "+4915123456789", FullName: "Ana"},
			{Phone: "4915123456789@s.whatsapp.net"}, // the same number as a JID
			{LID: "x@lid"},
		}
		r, err := s.ImportList(ctx, contact.ImportListInput{Contacts: list})
		if err != nil || r.Created != 1 || r.Duplicates != 1 || r.Invalid != 1 || len(r.Errors) != 2 ||
			r.Errors[0].Line != 2 || r.Errors[1].Line != 3 || !strings.Contains(r.Errors[1].Reason, "not a LID") {
			t.Fatalf("report %+v %v", r, err)
		}
		if _, err := s.ImportList(ctx, contact.ImportListInput{Contacts: make([]contact.Observation, 4)}); apperr.CodeOf(err) != apperr.InvalidInput {
			t.Fatalf("too many: %v", err)
		}
		if _, err := s.ImportList(ctx, contact.ImportListInput{Contacts: list, PersonaIDs: []string{"nope"}}); apperr.CodeOf(err) != apperr.NotFound {
			t.Fatalf("unknown persona: %v", err)
		}
	})
}
