package contact

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/uptrace/bun"

	"wagraph/internal/apperr"
)

// MaxReportedErrors is how many invalid rows a report lists; the rest are
// counted.
const MaxReportedErrors = 1000

// ImportInput is one synchronous CSV import.
type ImportInput struct {
	// CSV is the file; at most Options.MaxImportBytes are read.
	CSV io.Reader
	// PersonaIDs are linked to every contact of the file.
	PersonaIDs []string
	// DefaultRegion reads numbers without a country code ("" takes the
	// service's default).
	DefaultRegion string
	// DryRun reports what the import would do and changes nothing.
	DryRun bool
}

// RowError is why one row was skipped.
type RowError struct {
	Line   int
	Reason string
}

// ImportReport is what an import did.
type ImportReport struct {
	// ImportID names the import in the contacts' provenance.
	ImportID string
	DryRun   bool
	// RowsRead counts data rows (the header is not one).
	RowsRead  int
	Created   int
	Updated   int
	Unchanged int
	Merged    int
	// Duplicates are rows whose contact an earlier row of the file gave.
	Duplicates int
	Invalid    int
	// Errors lists the first MaxReportedErrors skipped rows, duplicates
	// included; ErrorsOmitted counts the rest.
	Errors        []RowError
	ErrorsOmitted int
}

func (r *ImportReport) skip(line int, reason string) {
	if len(r.Errors) < MaxReportedErrors {
		r.Errors = append(r.Errors, RowError{Line: line, Reason: reason})
	} else {
		r.ErrorsOmitted++
	}
}

// errDryRun rolls a dry run's transaction back.
var errDryRun = errors.New("contact: dry run")

// ImportCSV reads a contacts file and upserts each row (source IMPORT),
// in one transaction, within the hard limits (Options.MaxImportBytes,
// MaxImportRows). Invalid rows are skipped and reported with their line;
// they never stop the valid ones. Importing the same file again leaves
// every contact unchanged.
func (s *Service) ImportCSV(ctx context.Context, in ImportInput) (*ImportReport, error) {
	if in.CSV == nil {
		return nil, csvInvalid("no file given", "Send the CSV text.")
	}
	data, err := io.ReadAll(io.LimitReader(in.CSV, s.opts.MaxImportBytes+1))
	if err != nil {
		return nil, fmt.Errorf("contact: read import: %w", err)
	}
	if int64(len(data)) > s.opts.MaxImportBytes {
		return nil, csvInvalid(fmt.Sprintf("the file is larger than %d bytes, the most one import takes", s.opts.MaxImportBytes),
			"Split the file into smaller ones.")
	}
	if err := s.checkImport(ctx, in.DefaultRegion, in.PersonaIDs); err != nil {
		return nil, err
	}
	file, err := parseCSV(data, s.opts.MaxImportRows)
	if err != nil {
		return nil, err
	}
	return s.importRows(ctx, file.Rows, importSettings{in.PersonaIDs, in.DefaultRegion, in.DryRun})
}

// ImportListInput is a synchronous import of contacts given as a list.
type ImportListInput struct {
	// Contacts are the observations to import; Source is set by the import.
	Contacts      []Observation
	PersonaIDs    []string
	DefaultRegion string
	DryRun        bool
}

// ImportList imports a list of contacts as ImportCSV imports a file's
// rows, within MaxImportRows; a skipped item is reported by its position
// in the list (1 for the first).
func (s *Service) ImportList(ctx context.Context, in ImportListInput) (*ImportReport, error) {
	if len(in.Contacts) > s.opts.MaxImportRows {
		return nil, apperr.Invalid("contacts", fmt.Sprintf("%d contacts given; one import takes at most %d", len(in.Contacts), s.opts.MaxImportRows),
			"Split the list into smaller ones.")
	}
	if err := s.checkImport(ctx, in.DefaultRegion, in.PersonaIDs); err != nil {
		return nil, err
	}
	rows := make([]csvRow, len(in.Contacts))
	for i, o := range in.Contacts {
		rows[i] = csvRow{Line: i + 1, Obs: o}
	}
	return s.importRows(ctx, rows, importSettings{in.PersonaIDs, in.DefaultRegion, in.DryRun})
}

func (s *Service) checkImport(ctx context.Context, region string, personaIDs []string) error {
	if err := ValidRegion(region); err != nil {
		return err
	}
	if len(personaIDs) > 20 {
		return apperr.Invalid("personaIds", "at most 20 personas per import", "Import into fewer personas, then add contacts by filter.")
	}
	for _, id := range personaIDs {
		if _, err := s.personas.get(ctx, s.db.DB, id); err != nil {
			return err
		}
	}
	return nil
}

// importSettings are what both kinds of import take besides the rows.
type importSettings struct {
	PersonaIDs    []string
	DefaultRegion string
	DryRun        bool
}

// importRows upserts rows in one transaction (rolled back for a dry run)
// and links the import's contacts to the personas.
func (s *Service) importRows(ctx context.Context, rows []csvRow, in importSettings) (*ImportReport, error) {
	report := &ImportReport{ImportID: newID(), DryRun: in.DryRun, RowsRead: len(rows)}
	source := Source{Kind: SourceImport, ImportID: report.ImportID}
	err := s.db.InTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		now := s.now()
		seen := map[string]int{} // phone or LID → line that gave it
		for _, row := range rows {
			if row.Err != "" {
				report.Invalid++
				report.skip(row.Line, row.Err)
				continue
			}
			o := row.Obs
			o.Region, o.Source = in.DefaultRegion, source
			id, err := s.identify(o)
			if err != nil {
				report.Invalid++
				report.skip(row.Line, reasonOf(err))
				continue
			}
			if first, dup := duplicateOf(seen, id); dup {
				report.Duplicates++
				report.skip(row.Line, "duplicate of line "+strconv.Itoa(first))
				continue
			}
			for _, k := range []string{id.phone, id.lid} {
				if k != "" {
					seen[k] = row.Line
				}
			}
			_, outcome, err := s.upsert(ctx, tx, id, o, now)
			if err != nil {
				if _, coded := apperr.As(err); !coded {
					return err
				}
				report.Invalid++
				report.skip(row.Line, reasonOf(err))
				continue
			}
			switch outcome {
			case Created:
				report.Created++
			case Updated:
				report.Updated++
			case Merged:
				report.Merged++
			default:
				report.Unchanged++
			}
		}
		for _, pid := range in.PersonaIDs {
			_, err := tx.NewRaw(`INSERT INTO contact_personas (contact_id, persona_id, added_at)
				SELECT cs.contact_id, ?, ? FROM contact_sources AS cs WHERE cs.import_id = ? AND cs.kind = ? ON CONFLICT DO NOTHING`,
				pid, now, report.ImportID, string(SourceImport)).Exec(ctx)
			if err != nil {
				return fmt.Errorf("contact: link import to persona: %w", err)
			}
		}
		if in.DryRun {
			return errDryRun
		}
		return nil
	})
	if err != nil && !errors.Is(err, errDryRun) {
		return nil, err
	}
	if !in.DryRun {
		s.countImport(report)
	}
	s.log.Info().Str("import_id", report.ImportID).Bool("dry_run", in.DryRun).Int("rows", report.RowsRead).
		Int("created", report.Created).Int("updated", report.Updated).Int("merged", report.Merged).
		Int("invalid", report.Invalid).Int("duplicates", report.Duplicates).Msg("contacts imported")
	return report, nil
}

// countImport feeds a committed import's outcomes to the metrics.
func (s *Service) countImport(r *ImportReport) {
	m := s.opts.Metrics
	for outcome, n := range map[string]int{
		"created": r.Created, "updated": r.Updated, "unchanged": r.Unchanged, "merged": r.Merged,
		"duplicate": r.Duplicates, "invalid": r.Invalid,
	} {
		if n > 0 {
			m.ImportRows(outcome, n)
		}
	}
}

func duplicateOf(seen map[string]int, id identity) (int, bool) {
	for _, k := range []string{id.phone, id.lid} {
		if line, ok := seen[k]; ok && k != "" {
			return line, true
		}
	}
	return 0, false
}

func reasonOf(err error) string {
	if e, ok := apperr.As(err); ok {
		return e.Message
	}
	return err.Error()
}

// exportBatch is how many contacts the export reads at a time.
const exportBatch = 500

// ExportHeader is the export's header row.
var ExportHeader = []string{"id", "phone", "lid", "push_name", "full_name", "business_name", "opted_out", "first_seen_at", "last_seen_at", "attributes"}

// ExportCSV writes the contacts matching f to w as CSV (ExportHeader,
// oldest first), reading them in batches so memory stays flat however many
// there are. Cells that a spreadsheet would run as a formula are escaped
// with a leading single quote; ImportCSV reads them back unescaped. It
// returns how many contacts it wrote.
func (s *Service) ExportCSV(ctx context.Context, w io.Writer, f Filter) (int, error) {
	f, err := checkFilter(f)
	if err != nil {
		return 0, err
	}
	cw := csv.NewWriter(w)
	if err := cw.Write(ExportHeader); err != nil {
		return 0, err
	}
	var (
		after *position
		n     int
		order Order
	)
	for {
		rows, err := s.page(ctx, s.db.DB, f, order, after, exportBatch)
		if err != nil {
			return n, err
		}
		for _, r := range rows {
			attrs := "{}"
			if m := r.attributes(); len(m) > 0 {
				b, _ := json.Marshal(m)
				attrs = string(b)
			}
			rec := []string{r.ID, r.Phone, r.LID, r.PushName, r.FullName, r.BusinessName,
				strconv.FormatBool(r.OptedOut), r.FirstSeenAt.Format(time.RFC3339), r.LastSeenAt.Format(time.RFC3339), attrs}
			for i := range rec {
				rec[i] = escapeCell(rec[i])
			}
			if err := cw.Write(rec); err != nil {
				return n, err
			}
			n++
		}
		cw.Flush()
		if err := cw.Error(); err != nil {
			return n, err
		}
		if len(rows) < exportBatch {
			return n, nil
		}
		after = &position{id: rows[len(rows)-1].ID}
	}
}
