package main

import (
	"bufio"
	"fmt"
	"os"
)

type generated struct {
	distinct, duplicates, invalid int
	bytes                         int64
}

// generateCSV writes rows data rows: 1% invalid numbers, 40% repeats of a
// number given earlier in the file, the rest new numbers; every row has a
// name and a city attribute.
func generateCSV(path string, rows int) (generated, error) {
	var g generated
	f, err := os.Create(path)
	if err != nil {
		return g, err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	fmt.Fprintln(w, "phone,name,city")
	cities := []string{"Berlin", "Hamburg", "München", "Köln", "Frankfurt"}
	for i := range rows {
		switch {
		case i%100 == 99:
			fmt.Fprintf(w, "not-a-number-%d,Broken %d,\n", i, i)
			g.invalid++
		case g.distinct > 0 && (i%5 == 1 || i%5 == 3):
			// A number from earlier in the file, spread over the whole file.
			n := (i * 7919) % g.distinct
			fmt.Fprintf(w, "+49151%08d,\"Again, %d\",%s\n", n, i, cities[i%len(cities)])
			g.duplicates++
		default:
			fmt.Fprintf(w, "+49151%08d,Person %d,%s\n", g.distinct, i, cities[i%len(cities)])
			g.distinct++
		}
	}
	if err := w.Flush(); err != nil {
		return g, err
	}
	st, err := f.Stat()
	if err != nil {
		return g, err
	}
	g.bytes = st.Size()
	return g, f.Close()
}
