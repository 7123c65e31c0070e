package contact

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"testing"
)

// FuzzFileCursorResume checks what crash resume rests on: reading a file
// from a checkpoint (the byte offset and line after a row, as position
// reports them) gives the same rows, with the same line numbers, as reading
// on from there without stopping; and every checkpoint lies on the file.
// Run it longer with
//
//	go test -run='^$' -fuzz='^FuzzFileCursorResume$' -fuzztime=10m ./internal/contact
func FuzzFileCursorResume(f *testing.F) {
	for _, seed := range []string{
		"a,b\n1,2\n3,4\n",
		"a;b\r\n\"x\ny\";2\r\n3;\"4\"\"\"\n",
		"p\n\"unterminated\n1\n2\n",
		"p\n1\n\n\n2\nbad \"quote\n3",
		"a\tb\n\"1\n\n2\"\t3\n4\t5\n",
	} {
		f.Add([]byte(seed), uint8(1))
	}
	f.Fuzz(func(t *testing.T, data []byte, split uint8) {
		if len(data) > 4096 {
			return
		}
		sep := detectSeparator(data)
		type rec struct {
			line   int
			fields []string
		}
		type point struct {
			off  int64
			line int
		}
		read := func(cur *fileCursor, max int) ([]rec, []point) {
			var recs []rec
			var points []point
			for len(recs) < max {
				line, fields, err := cur.next()
				if err != nil {
					if !errors.Is(err, io.EOF) {
						recs = append(recs, rec{line: -line})
					}
					break
				}
				recs = append(recs, rec{line: line, fields: slices.Clone(fields)})
				off, next := cur.position()
				points = append(points, point{off, next})
			}
			return recs, points
		}
		all, points := read(newFileCursor(bytes.NewReader(data), sep, 0, 1), 200)
		for i, p := range points {
			if p.off < 0 || p.off > int64(len(data)) {
				t.Fatalf("checkpoint %d at offset %d of %d bytes", i, p.off, len(data))
			}
			if want := 1 + bytes.Count(data[:p.off], []byte{'\n'}); p.line != want {
				t.Fatalf("checkpoint %d at offset %d says line %d; the file has it on line %d", i, p.off, p.line, want)
			}
		}
		if len(points) == 0 {
			return
		}
		k := int(split) % len(points)
		p := points[k]
		rest, _ := read(newFileCursor(bytes.NewReader(data[p.off:]), sep, p.off, p.line), 200-k-1)
		want := all[k+1:]
		// Compare up to the first unreadable row: from there on the reader
		// may resynchronise differently.
		for i := range min(len(rest), len(want)) {
			if want[i].line < 0 || rest[i].line < 0 {
				return
			}
			if rest[i].line != want[i].line || !slices.Equal(rest[i].fields, want[i].fields) {
				t.Fatalf("after checkpoint %d (offset %d, line %d), row %d: %+v, want %+v", k, p.off, p.line, i, rest[i], want[i])
			}
		}
		if len(rest) != len(want) {
			t.Fatalf("after checkpoint %d: %d rows, want %d", k, len(rest), len(want))
		}
	})
}
