package contact_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/uptrace/bun"

	"wagraph/internal/apperr"
	"wagraph/internal/contact"
	"wagraph/internal/store"
	"wagraph/internal/store/storetest"
)

// queue is an Enqueuer that records the jobs; tests run them with Run.
type queue struct{ n atomic.Int64 }

func (q *queue) Enqueue(ctx context.Context, db bun.IDB, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobRow, error) {
	return &rivertype.JobRow{ID: q.n.Add(1), Kind: args.Kind()}, nil
}

func newImporter(t *testing.T, db *store.DB, opts contact.ImportOptions) (*contact.Service, *contact.Importer) {
	t.Helper()
	s, _ := newService(t, db)
	return s, contact.NewImporter(s, &queue{}, nil, opts)
}

// runImport starts an import of text and runs it to the end, one batch
// per Run call (the time slice is over at once), as River would.
func runImport(t *testing.T, im *contact.Importer, in contact.StartImportInput, text string) *contact.ImportJob {
	t.Helper()
	ctx := context.Background()
	in.File = strings.NewReader(text)
	job, err := im.StartImport(ctx, in)
	if err != nil {
		t.Fatalf("start import: %v", err)
	}
	for i := 0; ; i++ {
		done, err := im.Run(ctx, job.ID, time.Time{})
		if err != nil {
			t.Fatalf("run import: %v", err)
		}
		if done {
			break
		}
		if i > 10_000 {
			t.Fatal("the import does not end")
		}
	}
	return must[*contact.ImportJob](t)(im.Import(ctx, job.ID))
}

func counts(r contact.ImportReport) string {
	return fmt.Sprintf("rows=%d created=%d updated=%d unchanged=%d merged=%d dups=%d invalid=%d omitted=%d",
		r.RowsRead, r.Created, r.Updated, r.Unchanged, r.Merged, r.Duplicates, r.Invalid, r.ErrorsOmitted)
}

func TestImportJobReport(t *testing.T) {
	storetest.RunDialects(t, func(t *testing.T, db *store.DB) {
		// Batches of 2 rows and chunks of 16 bytes: rows, quoted cells and
		// the BOM straddle both.
		s, im := newImporter(t, db, contact.ImportOptions{BatchRows: 2, ChunkBytes: 16})
		ctx := context.Background()
		p := must[*contact.Persona](t)(s.CreatePersona(ctx, "Imported", ""))
		upsert(t, s, contact.Observation{LID: "555@lid", PushName: "Cris", Source: group("acc1", "g@g.us")})
		upsert(t, s, contact.Observation{Phone: "+351912345678", Source: contact.Source{Kind: contact.SourceManual}})
		upsert(t, s, contact.Observation{Phone: "+4917612345678", FullName: "Old", Source: contact.Source{Kind: contact.SourceManual}})
		file := "\ufeffNumber;Name;LID;City\n" +
			"+49 151 23456789;\"Ana\nSouza\";;Berlin\n" + // line 2-3
			"(11) 98765-4321;Bruno;;\"São Paulo\"\n" + // line 4
			"+351 912 345 678;Cris;555@lid;Porto\n" + // line 5: merges
			"0049 151 23456789;Ana again;;\n" + // line 6: duplicate of line 2, an earlier batch
			"not a number;Dora;;\n" + // line 7
			";Empty;;\n" + // line 8
			"+49 176 12345678;New name;;\n" + // line 9: updates
			"+55 11 98765 4321;Bruno;;\n" + // line 10: duplicate of line 4
			"+1 800 123 4567;Toll free;;\n" + // line 11
			"+49 151 1111111 1;\"bad \"quote\";;\n" + // line 12: malformed quote
			"+49 151 22222222;Ok after;;\n" // line 13
		job := runImport(t, im, contact.StartImportInput{FileName: "list.csv", PersonaIDs: []string{p.ID}, DefaultRegion: "BR"}, file)
		if job.State != contact.ImportDone || job.BytesDone != job.FileBytes || job.FileBytes != int64(len(file)) {
			t.Fatalf("job: %+v", job)
		}
		if got, want := counts(job.Report), "rows=11 created=3 updated=1 unchanged=0 merged=1 dups=2 invalid=4 omitted=0"; got != want {
			t.Fatalf("report: %s, want %s", got, want)
		}
		errs := must[[]contact.RowError](t)(im.ImportErrors(ctx, job.ID))
		lines := map[int]string{}
		for _, e := range errs {
			lines[e.Line] = e.Reason
		}
		for line, want := range map[int]string{6: "duplicate", 7: "not a number", 8: "phone number or a LID", 10: "duplicate", 11: "not a valid phone number", 12: "line 12, column"} {
			if !strings.Contains(lines[line], want) {
				t.Errorf("line %d: %q, want %q (all: %v)", line, lines[line], want, errs)
			}
		}
		if len(errs) != 6 {
			t.Errorf("errors: %v", errs)
		}
		ana := must[*contact.Page](t)(s.List(ctx, contact.ListInput{Filter: contact.Filter{Search: "+4915123456789"}})).Contacts
		if len(ana) != 1 || ana[0].FullName != "Ana Souza" || ana[0].Attributes["City"] != "Berlin" {
			t.Fatalf("Ana: %+v", ana)
		}
		inPersona := must[*contact.Page](t)(s.List(ctx, contact.ListInput{Filter: contact.Filter{PersonaID: p.ID}}))
		if inPersona.TotalCount != 5 {
			t.Fatalf("persona has %d contacts, want 5", inPersona.TotalCount)
		}
		// The same file again changes nothing.
		again := runImport(t, im, contact.StartImportInput{PersonaIDs: []string{p.ID}, DefaultRegion: "BR"}, file)
		if got, want := counts(again.Report), "rows=11 created=0 updated=0 unchanged=5 merged=0 dups=2 invalid=4 omitted=0"; got != want {
			t.Fatalf("re-import: %s, want %s", got, want)
		}
		var chunks int
		if err := db.NewRaw("SELECT count(*) FROM contact_import_chunks").Scan(ctx, &chunks); err != nil || chunks != 0 {
			t.Fatalf("chunks left: %d, %v", chunks, err)
		}
	})
}

// crashAt cancels the run's context when the n-th checkpoint is about to
// be written: the batch's rows are written but not committed, as when the
// process is killed.
type crashAt struct {
	n      int
	seen   int
	cancel context.CancelFunc
}

func (c *crashAt) BeforeQuery(ctx context.Context, ev *bun.QueryEvent) context.Context {
	if strings.Contains(ev.Query, "UPDATE \"contact_imports\"") && strings.Contains(ev.Query, "bytes_done =") {
		if c.seen++; c.seen == c.n && c.cancel != nil {
			c.cancel()
		}
	}
	return ctx
}

func (*crashAt) AfterQuery(context.Context, *bun.QueryEvent) {}

func generatedFile(rows int) string {
	var b strings.Builder
	b.WriteString("phone,name,lid,note\n")
	for i := range rows {
		switch {
		case i%10 == 3:
			fmt.Fprintf(&b, "+49151%08d,dup %d,,\n", 1000+i-3, i) // duplicate of 3 rows up
		case i%25 == 7:
			fmt.Fprintf(&b, "garbage %d,,,\n", i)
		case i%13 == 5:
			fmt.Fprintf(&b, "+49151%08d,\"With\nlid\",%d@lid,x\n", 1000+i, 90000+i)
		default:
			fmt.Fprintf(&b, "+49151%08d,Person %d,,\"note, %d\"\n", 1000+i, i, i)
		}
	}
	return b.String()
}

func TestImportJobResumesAfterCrash(t *testing.T) {
	file := generatedFile(120)
	storetest.RunDialects(t, func(t *testing.T, db *store.DB) {
		// The run without a crash, on a database of its own.
		ref := storetest.Open(t, db.Kind)
		_, refIm := newImporter(t, ref, contact.ImportOptions{BatchRows: 7, ChunkBytes: 100})
		want := runImport(t, refIm, contact.StartImportInput{}, file)

		s, im := newImporter(t, db, contact.ImportOptions{BatchRows: 7, ChunkBytes: 100})
		ctx := context.Background()
		job := must[*contact.ImportJob](t)(im.StartImport(ctx, contact.StartImportInput{File: strings.NewReader(file)}))
		hook := &crashAt{n: 4}
		db.AddQueryHook(hook)
		runCtx, cancel := context.WithCancel(ctx)
		hook.cancel = cancel
		var err error
		for done := false; !done && err == nil; {
			done, err = im.Run(runCtx, job.ID, time.Now().Add(time.Hour))
		}
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("the run did not crash: %v", err)
		}
		mid := must[*contact.ImportJob](t)(im.Import(ctx, job.ID))
		if mid.Report.RowsRead != 21 || mid.State != contact.ImportRunning {
			t.Fatalf("after the crash: %s, %s; want 3 batches of 7 rows", mid.State, counts(mid.Report))
		}
		hook.cancel = nil
		for done := false; !done; {
			done = must[bool](t)(im.Run(ctx, job.ID, time.Now().Add(time.Hour)))
		}
		got := must[*contact.ImportJob](t)(im.Import(ctx, job.ID))
		if counts(got.Report) != counts(want.Report) || got.State != contact.ImportDone {
			t.Fatalf("resumed: %s\nwithout crash: %s", counts(got.Report), counts(want.Report))
		}
		if want.Report.Created == 0 || want.Report.Duplicates == 0 || want.Report.Invalid == 0 {
			t.Fatalf("the file tests too little: %s", counts(want.Report))
		}
		gotErrs := must[[]contact.RowError](t)(im.ImportErrors(ctx, job.ID))
		wantErrs := must[[]contact.RowError](t)(refIm.ImportErrors(ctx, want.ID))
		if fmt.Sprint(len(gotErrs)) != fmt.Sprint(len(wantErrs)) {
			t.Fatalf("errors: %v\nwant %v", gotErrs, wantErrs)
		}
		for i := range gotErrs {
			if gotErrs[i].Line != wantErrs[i].Line {
				t.Fatalf("error %d: %v, want %v", i, gotErrs[i], wantErrs[i])
			}
		}
		n := must[int](t)(s.Count(ctx))
		if n != want.Report.Created {
			t.Fatalf("%d contacts, want %d", n, want.Report.Created)
		}
		var sources int
		if err := db.NewRaw("SELECT count(*) FROM contact_sources WHERE import_id = ?", job.ID).Scan(ctx, &sources); err != nil || sources != n {
			t.Fatalf("%d source rows for %d contacts (%v)", sources, n, err)
		}
	})
}

func TestImportJobDryRunChangesNothing(t *testing.T) {
	file := generatedFile(60)
	storetest.RunDialects(t, func(t *testing.T, db *store.DB) {
		s, im := newImporter(t, db, contact.ImportOptions{BatchRows: 9, ChunkBytes: 64})
		dry := runImport(t, im, contact.StartImportInput{DryRun: true}, file)
		if n := must[int](t)(s.Count(context.Background())); n != 0 {
			t.Fatalf("a dry run created %d contacts", n)
		}
		real := runImport(t, im, contact.StartImportInput{}, file)
		if counts(dry.Report) != counts(real.Report) {
			t.Fatalf("dry run: %s\nreal: %s", counts(dry.Report), counts(real.Report))
		}
	})
}

func TestImportJobCancel(t *testing.T) {
	storetest.RunDialects(t, func(t *testing.T, db *store.DB) {
		_, im := newImporter(t, db, contact.ImportOptions{BatchRows: 5})
		ctx := context.Background()
		job := must[*contact.ImportJob](t)(im.StartImport(ctx, contact.StartImportInput{File: strings.NewReader(generatedFile(30))}))
		if done := must[bool](t)(im.Run(ctx, job.ID, time.Time{})); done {
			t.Fatal("one batch ended the import")
		}
		c := must[*contact.ImportJob](t)(im.CancelImport(ctx, job.ID))
		if c.State != contact.ImportCanceled || c.Report.RowsRead != 5 {
			t.Fatalf("canceled: %s %s", c.State, counts(c.Report))
		}
		if done := must[bool](t)(im.Run(ctx, job.ID, time.Time{})); !done {
			t.Fatal("a canceled import goes on")
		}
		after := must[*contact.ImportJob](t)(im.Import(ctx, job.ID))
		if after.Report.RowsRead != 5 {
			t.Fatalf("rows after cancel: %d", after.Report.RowsRead)
		}
		if _, err := im.CancelImport(ctx, job.ID); apperr.CodeOf(err) != apperr.InvalidTransition {
			t.Fatalf("cancel twice: %v", err)
		}
		page := must[*contact.ImportPage](t)(im.Imports(ctx, nil, ""))
		if page.TotalCount != 1 || page.Imports[0].ID != job.ID {
			t.Fatalf("imports: %+v", page)
		}
	})
}

func TestStartImportRefusesFiles(t *testing.T) {
	storetest.RunDialects(t, func(t *testing.T, db *store.DB) {
		_, im := newImporter(t, db, contact.ImportOptions{MaxUploadBytes: 1000})
		ctx := context.Background()
		for name, tc := range map[string]struct{ file, want string }{
			"no phone column": {"name,city\nAna,Berlin\n", `it has "name", "city"`},
			"utf-16":          {"\xff\xfep\x00h\x00", "UTF-16"},
			"latin-1":         {"phone,name\n+4915123456789,Jos\xe9\n", "not UTF-8"},
			"empty":           {"", "empty"},
			"too large":       {"phone\n" + strings.Repeat("+4915123456789\n", 100), "larger than 1000 bytes"},
		} {
			_, err := im.StartImport(ctx, contact.StartImportInput{File: strings.NewReader(tc.file)})
			if e, ok := apperr.As(err); !ok || !strings.Contains(e.Message, tc.want) || e.Suggestion == "" {
				t.Errorf("%s: %v, want %q", name, err, tc.want)
			}
		}
		var n int
		if err := db.NewRaw("SELECT count(*) FROM contact_imports").Scan(ctx, &n); err != nil || n != 0 {
			t.Fatalf("%d imports stored from refused files (%v)", n, err)
		}
	})
}

// The report lists the first 1,000 skipped rows, by line, and counts the
// rest, however the batches fall.
func TestImportJobKeepsTheFirstThousandErrors(t *testing.T) {
	storetest.RunDialects(t, func(t *testing.T, db *store.DB) {
		_, im := newImporter(t, db, contact.ImportOptions{BatchRows: 300})
		var b strings.Builder
		b.WriteString("phone\n")
		for i := range 1205 {
			fmt.Fprintf(&b, "bad %d\n", i)
		}
		b.WriteString("+4915123456789\n")
		job := runImport(t, im, contact.StartImportInput{}, b.String())
		if got, want := counts(job.Report), "rows=1206 created=1 updated=0 unchanged=0 merged=0 dups=0 invalid=1205 omitted=205"; got != want {
			t.Fatalf("report: %s, want %s", got, want)
		}
		errs := must[[]contact.RowError](t)(im.ImportErrors(context.Background(), job.ID))
		if len(errs) != contact.MaxReportedErrors || errs[0].Line != 2 || errs[len(errs)-1].Line != 1001 {
			t.Fatalf("%d errors, lines %d to %d; want the first 1000 (lines 2 to 1001)", len(errs), errs[0].Line, errs[len(errs)-1].Line)
		}
	})
}
