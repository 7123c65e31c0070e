package contact

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/uptrace/bun"
)

// Reading a stored import file as a stream: chunk by chunk from the
// database, from any byte offset a checkpoint recorded, with the line
// numbers of the rows known however far into the file the reading starts.

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// sniffFile checks the start of an uploaded file: UTF-8 (a UTF-16 byte
// order mark, NUL bytes or bytes that are not UTF-8 refuse it, with the
// line), not empty, and a header that maps (a phone or lid column).
func sniffFile(head []byte) error {
	b := head
	if len(b) == sniffBytes {
		// The sniffed part may end inside a character.
		for i := 0; i < utf8.UTFMax && len(b) > 0 && !utf8.Valid(b); i++ {
			b = b[:len(b)-1]
		}
	}
	b, err := checkEncoding(b)
	if err != nil {
		return err
	}
	r := csv.NewReader(bytes.NewReader(b))
	r.Comma = detectSeparator(b)
	r.FieldsPerRecord = -1
	header, err := r.Read()
	if errors.Is(err, io.EOF) {
		return csvInvalid("the file is empty", "Send a header row (e.g. phone,name) and one row per contact.")
	}
	if err != nil {
		var pe *csv.ParseError
		if errors.As(err, &pe) && pe.Line == 1 && len(head) == sniffBytes && errors.Is(pe.Err, csv.ErrQuote) {
			return csvInvalid(fmt.Sprintf("the header row is longer than %d bytes", sniffBytes), "Check the file's first line: it should name the columns.")
		}
		return csvSyntax(err)
	}
	_, err = mapHeader(header)
	return err
}

// chunkReader reads an import's stored file from a byte offset.
type chunkReader struct {
	ctx       context.Context
	db        bun.IDB
	importID  string
	chunkSize int64
	chunks    int
	seq       int
	buf       []byte
}

func newChunkReader(ctx context.Context, db bun.IDB, importID string, chunkSize int64, chunks int, offset int64) *chunkReader {
	r := &chunkReader{ctx: ctx, db: db, importID: importID, chunkSize: chunkSize, chunks: chunks, seq: int(offset / chunkSize)}
	if skip := offset % chunkSize; skip > 0 {
		if err := r.load(); err == nil && int64(len(r.buf)) >= skip {
			r.buf = r.buf[skip:]
		}
	}
	return r
}

func (r *chunkReader) load() error {
	if r.seq >= r.chunks {
		return io.EOF
	}
	var data []byte
	err := r.db.NewRaw("SELECT data FROM contact_import_chunks WHERE import_id = ? AND seq = ?", r.importID, r.seq).Scan(r.ctx, &data)
	if err != nil {
		return fmt.Errorf("contact: read import chunk %d: %w", r.seq, err)
	}
	r.seq++
	r.buf = data
	return nil
}

func (r *chunkReader) Read(p []byte) (int, error) {
	for len(r.buf) == 0 {
		if err := r.load(); err != nil {
			return 0, err
		}
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}

// lineCounter counts the line breaks of what it reads, so that the line a
// position of the stream is on can be told after a reader that buffers
// ahead (csv.Reader) has read past it.
type lineCounter struct {
	r      io.Reader
	read   int64   // bytes handed out
	before int     // line breaks before the last position asked about
	breaks []int64 // offsets of the line breaks handed out after it
}

func (c *lineCounter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	for i := 0; i < n; i++ {
		if p[i] == '\n' {
			c.breaks = append(c.breaks, c.read+int64(i))
		}
	}
	c.read += int64(n)
	return n, err
}

// breaksBefore returns how many line breaks lie before offset off;
// offsets asked about must not decrease.
func (c *lineCounter) breaksBefore(off int64) int {
	i := 0
	for i < len(c.breaks) && c.breaks[i] < off {
		i++
	}
	c.before += i
	c.breaks = c.breaks[i:]
	return c.before
}

// fileCursor reads the data rows of a stored import file from a
// checkpoint: the byte offset of a row's start and the line it starts on.
type fileCursor struct {
	csv    *csv.Reader
	lines  *lineCounter
	start  int64 // the file offset the csv reader started at
	line0  int   // the line it started on
	header headerMap
	// done is the file offset the rows read so far end at (the last
	// batch's checkpoint).
	done int64
}

// openFile reads the stored file's header and positions the cursor at
// offset (0: the first data row), which starts on line line.
func (im *Importer) openFile(ctx context.Context, r *importRow, offset int64, line int) (*fileCursor, error) {
	src := newChunkReader(ctx, im.db.DB, r.ID, int64(im.opts.ChunkBytes), r.Chunks, 0)
	head := make([]byte, sniffBytes)
	n, err := io.ReadFull(src, head)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, err
	}
	head = head[:n]
	start := int64(0)
	if bytes.HasPrefix(head, utf8BOM) {
		start = int64(len(utf8BOM))
	}
	sep := detectSeparator(head[start:])
	cur := newFileCursor(newChunkReader(ctx, im.db.DB, r.ID, int64(im.opts.ChunkBytes), r.Chunks, start), sep, start, 1)
	header, err := cur.csv.Read()
	if err != nil {
		return nil, csvSyntax(err)
	}
	if cur.header, err = mapHeader(header); err != nil {
		return nil, err
	}
	if offset == 0 {
		return cur, nil
	}
	h := cur.header
	cur = newFileCursor(newChunkReader(ctx, im.db.DB, r.ID, int64(im.opts.ChunkBytes), r.Chunks, offset), sep, offset, line)
	cur.header, cur.done = h, offset
	return cur, nil
}

func newFileCursor(src io.Reader, sep rune, start int64, line int) *fileCursor {
	lc := &lineCounter{r: src}
	r := csv.NewReader(lc)
	r.Comma = sep
	r.FieldsPerRecord = -1
	r.ReuseRecord = true
	return &fileCursor{csv: r, lines: lc, start: start, line0: line}
}

// next reads the next data row: its line and cells (valid until the next
// call), or io.EOF. A row the CSV reader cannot read comes back as a
// csv.ParseError with its line made absolute; reading may go on after it.
func (c *fileCursor) next() (int, []string, error) {
	rec, err := c.csv.Read()
	if err != nil {
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			pe.StartLine += c.line0 - 1
			pe.Line += c.line0 - 1
			return pe.StartLine, nil, pe
		}
		return 0, nil, err
	}
	line, _ := c.csv.FieldPos(0)
	return line + c.line0 - 1, rec, nil
}

// position is the checkpoint after the rows read so far: the file offset
// the next row starts at and its line.
func (c *fileCursor) position() (int64, int) {
	off := c.csv.InputOffset()
	return c.start + off, c.line0 + c.lines.breaksBefore(off)
}
