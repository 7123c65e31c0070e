package graph

import (
	"fmt"
	"strings"
	"testing"
)

func TestQRImagesRendersOnceAndEvictsOldest(t *testing.T) {
	q := NewQRImages(64, 2)
	first, err := q.DataURL("2@a")
	if err != nil || !strings.HasPrefix(first, "data:image/png;base64,") {
		t.Fatalf("DataURL = %.40q, %v", first, err)
	}
	again, _ := q.DataURL("2@a")
	if again != first {
		t.Fatal("the same code rendered differently")
	}
	_, _ = q.DataURL("2@b")
	_, _ = q.DataURL("2@c") // evicts 2@a, the oldest
	if _, ok := q.urls["2@a"]; ok || len(q.urls) != 2 || len(q.order) != 2 {
		t.Fatalf("cache holds %v, want only the 2 newest codes", q.order)
	}
}

// BenchmarkQRImage compares rendering each time with the cache, as many
// subscribers asking for the current code would.
func BenchmarkQRImage(b *testing.B) {
	code := "2@" + strings.Repeat("x", 150)
	b.Run("render", func(b *testing.B) {
		for b.Loop() {
			if _, err := QRImageDataURL(code, 256); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("cached", func(b *testing.B) {
		q := NewQRImages(256, 64)
		for i := 0; b.Loop(); i++ {
			if _, err := q.DataURL(fmt.Sprint(code, i%4)); err != nil {
				b.Fatal(err)
			}
		}
	})
}
