package contact

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"wagraph/internal/apperr"
)

// A contacts CSV file as people bring it: a header row naming the columns,
// comma, semicolon or tab separated, UTF-8 with or without a byte order
// mark, quoted cells that may hold separators and line breaks.

// Column roles a header can map to.
const (
	colPhone        = "phone"
	colLID          = "lid"
	colFullName     = "full_name"
	colPushName     = "push_name"
	colBusinessName = "business_name"
	colOptedOut     = "opted_out"
	colAttributes   = "attributes"
	colIgnored      = "-"
)

// headerAliases maps a normalized header (lower case, letters and digits
// only) to its role. Headers not listed become attributes.
var headerAliases = map[string]string{
	"phone": colPhone, "phonenumber": colPhone, "number": colPhone, "whatsapp": colPhone, "whatsappnumber": colPhone,
	"mobile": colPhone, "mobilenumber": colPhone, "cell": colPhone, "msisdn": colPhone, "tel": colPhone, "telephone": colPhone, "e164": colPhone,
	"lid":  colLID,
	"name": colFullName, "fullname": colFullName, "contactname": colFullName,
	"pushname":     colPushName,
	"businessname": colBusinessName, "company": colBusinessName,
	"optedout": colOptedOut, "optout": colOptedOut,
	"attributes": colAttributes,
	// Written by the export, not imported back.
	"id": colIgnored, "firstseenat": colIgnored, "lastseenat": colIgnored, "optedoutat": colIgnored,
	"createdat": colIgnored, "updatedat": colIgnored,
}

func normalizeHeader(h string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(h) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// csvRow is one data row of a contacts file, mapped by header.
type csvRow struct {
	Line int
	Obs  Observation
	// Err says why the row cannot be imported (bad attributes cell).
	Err string
}

// csvFile is a parsed contacts file.
type csvFile struct {
	Rows []csvRow
}

// checkEncoding strips a UTF-8 byte order mark and refuses what is not
// UTF-8 text, naming the line of the first bad byte.
func checkEncoding(b []byte) ([]byte, error) {
	switch {
	case bytes.HasPrefix(b, []byte{0xEF, 0xBB, 0xBF}):
		b = b[3:]
	case bytes.HasPrefix(b, []byte{0xFF, 0xFE}), bytes.HasPrefix(b, []byte{0xFE, 0xFF}):
		return nil, csvInvalid("the file is UTF-16 (it starts with a UTF-16 byte order mark); only UTF-8 is read",
			"Save the file as 'CSV UTF-8' (Excel: File → Save As → CSV UTF-8), or convert it: iconv -f UTF-16 -t UTF-8 in.csv > out.csv.")
	}
	if i := bytes.IndexByte(b, 0); i >= 0 {
		return nil, csvInvalid(fmt.Sprintf("line %d holds a NUL byte: the file is not UTF-8 text (UTF-16 without a byte order mark?)", lineAt(b, i)),
			"Save the file as 'CSV UTF-8', or convert it with iconv -t UTF-8.")
	}
	if !utf8.Valid(b) {
		i := 0
		for i < len(b) {
			r, n := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && n <= 1 {
				break
			}
			i += n
		}
		return nil, csvInvalid(fmt.Sprintf("line %d is not UTF-8 text (byte 0x%02X); only UTF-8 is read (Windows-1252 and Latin-1 files need converting)", lineAt(b, i), b[i]),
			"Save the file as 'CSV UTF-8', or convert it: iconv -f WINDOWS-1252 -t UTF-8 in.csv > out.csv.")
	}
	return b, nil
}

func lineAt(b []byte, i int) int { return bytes.Count(b[:i], []byte{'\n'}) + 1 }

func csvInvalid(msg, suggestion string) error {
	return apperr.Invalid("csv", msg, suggestion)
}

// detectSeparator picks comma, semicolon or tab: whichever occurs most in
// the header line outside quotes (comma on a tie or when none occurs).
func detectSeparator(b []byte) rune {
	counts := map[rune]int{}
	quoted := false
	for _, r := range string(b) {
		if r == '"' {
			quoted = !quoted
			continue
		}
		if !quoted && (r == '\n' || r == '\r') {
			break
		}
		if !quoted && (r == ',' || r == ';' || r == '\t') {
			counts[r]++
		}
	}
	best := ','
	for _, r := range []rune{';', '\t'} {
		if counts[r] > counts[best] {
			best = r
		}
	}
	return best
}

// parseCSV reads a contacts file (already bounded in size) into rows;
// maxRows bounds the data rows. A file it cannot read at all is an
// INVALID_INPUT error naming the line; a row it cannot use carries Err.
func parseCSV(data []byte, maxRows int) (*csvFile, error) {
	data, err := checkEncoding(data)
	if err != nil {
		return nil, err
	}
	r := csv.NewReader(bytes.NewReader(data))
	r.Comma = detectSeparator(data)
	r.FieldsPerRecord = -1
	r.ReuseRecord = true
	header, err := r.Read()
	if errors.Is(err, io.EOF) {
		return nil, csvInvalid("the file is empty", "Send a header row (e.g. phone,name) and one row per contact.")
	}
	if err != nil {
		return nil, csvSyntax(err)
	}
	hm, err := mapHeader(header)
	if err != nil {
		return nil, err
	}
	file := &csvFile{}
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, csvSyntax(err)
		}
		if len(file.Rows) == maxRows {
			return nil, csvInvalid(fmt.Sprintf("the file has more than %d rows; one import takes at most %d", maxRows, maxRows),
				"Split the file into smaller ones.")
		}
		line, _ := r.FieldPos(0)
		file.Rows = append(file.Rows, mapRow(line, rec, hm.roles, hm.names))
	}
	return file, nil
}

// headerMap is what each column of a file holds, read from its header.
type headerMap struct {
	roles []string // a col* role, "attr" or colIgnored
	names []string // the header cells, trimmed
}

// mapHeader maps a header row to column roles. A header without a phone
// or lid column, or with two columns for one field, is refused with a
// message naming the columns it has.
func mapHeader(header []string) (headerMap, error) {
	roles := make([]string, len(header))
	names := make([]string, len(header))
	seen := map[string]string{}
	hasID := false
	for i, h := range header {
		h = strings.TrimSpace(h)
		names[i] = h
		role, ok := headerAliases[normalizeHeader(h)]
		if !ok {
			if h == "" {
				role = colIgnored
			} else {
				role = "attr"
			}
		}
		if role != "attr" && role != colIgnored {
			if prev, dup := seen[role]; dup {
				return headerMap{}, csvInvalid(fmt.Sprintf("the columns %q and %q both hold the %s", prev, h, strings.ReplaceAll(role, "_", " ")),
					"Keep one of the two columns.")
			}
			seen[role] = h
		}
		if role == colPhone || role == colLID {
			hasID = true
		}
		roles[i] = role
	}
	if !hasID {
		return headerMap{}, csvInvalid(fmt.Sprintf("the header has no phone number column; it has %s", quoteList(names)),
			"Name the column with the numbers phone (or number, whatsapp, mobile), or give WhatsApp LIDs in a column named lid.")
	}
	return headerMap{roles: roles, names: names}, nil
}

func mapRow(line int, rec []string, roles, names []string) csvRow {
	row := csvRow{Line: line}
	o := &row.Obs
	for i, cell := range rec {
		if i >= len(roles) {
			if strings.TrimSpace(cell) != "" {
				row.Err = fmt.Sprintf("the row has %d cells; the header names %d columns", len(rec), len(roles))
			}
			continue
		}
		v := strings.TrimSpace(unescapeCell(cell))
		switch roles[i] {
		case colPhone:
			o.Phone = v
		case colLID:
			o.LID = v
		case colFullName:
			o.FullName = v
		case colPushName:
			o.PushName = v
		case colBusinessName:
			o.BusinessName = v
		case colOptedOut:
			switch strings.ToLower(v) {
			case "true", "yes", "y", "1", "x":
				o.OptOut = true
			case "", "false", "no", "n", "0":
			default:
				row.Err = fmt.Sprintf("opted_out is %q; use true or false", clip(v))
			}
		case colAttributes:
			if v == "" {
				continue
			}
			attrs := map[string]string{}
			if err := json.Unmarshal([]byte(v), &attrs); err != nil {
				row.Err = "the attributes cell is not a JSON object of strings"
				continue
			}
			if o.Attributes == nil {
				o.Attributes = map[string]string{}
			}
			for k, val := range attrs {
				o.Attributes[k] = val
			}
		case "attr":
			if v == "" {
				continue
			}
			if o.Attributes == nil {
				o.Attributes = map[string]string{}
			}
			o.Attributes[names[i]] = v
		}
	}
	return row
}

func csvSyntax(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return csvInvalid(fmt.Sprintf("line %d, column %d: %v", pe.Line, pe.Column, pe.Err),
			`Quote cells that hold the separator, quotes or line breaks, and double the quotes inside them ("Say ""hi""").`)
	}
	return csvInvalid("the file cannot be read as CSV: "+err.Error(), "")
}

func quoteList(names []string) string {
	if len(names) == 0 {
		return "no columns"
	}
	q := make([]string, 0, len(names))
	for i, n := range names {
		if i == 10 {
			q = append(q, fmt.Sprintf("and %d more", len(names)-10))
			break
		}
		q = append(q, fmt.Sprintf("%q", clip(n)))
	}
	return strings.Join(q, ", ")
}

// formulaStarts are the first characters that make a spreadsheet treat a
// cell as a formula (OWASP "CSV Injection").
const formulaStarts = "=+-@\t\r"

// escapeCell makes a cell safe to open in a spreadsheet: one that would
// start a formula gets a leading single quote.
func escapeCell(s string) string {
	if s != "" && strings.ContainsRune(formulaStarts, rune(s[0])) {
		return "'" + s
	}
	return s
}

// unescapeCell undoes escapeCell, so an exported file imports back as it was.
func unescapeCell(s string) string {
	if len(s) >= 2 && s[0] == '\'' && strings.ContainsRune(formulaStarts, rune(s[1])) {
		return s[1:]
	}
	return s
}
