package contact_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"wagraph/internal/contact"
	"wagraph/internal/store/storetest"
)

// BenchmarkImportCSV imports a file at the synchronous import's row limit
// (10,000 rows, a tenth of them duplicates) into a fresh database per
// dialect and reports rows per second.
func BenchmarkImportCSV(b *testing.B) {
	var file strings.Builder
	file.WriteString("phone,name,city\n")
	for i := range 10_000 {
		n := i
		if i%10 == 9 {
			n = i - 1 // a duplicate of the row before
		}
		fmt.Fprintf(&file, "+4915100%06d,Person %d,City %d\n", n, i, i%50)
	}
	for _, d := range storetest.Dialects {
		b.Run(string(d), func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				s := contact.New(storetest.Open(b, d), contact.Options{Logger: zerolog.Nop()})
				b.StartTimer()
				r, err := s.ImportCSV(context.Background(), contact.ImportInput{CSV: strings.NewReader(file.String())})
				if err != nil || r.Created != 9000 || r.Duplicates != 1000 {
					b.Fatalf("%+v %v", r, err)
				}
			}
			b.ReportMetric(float64(10_000*b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}
