package graph

import (
	"encoding/base64"
	"fmt"
	"sync"

	qrcode "github.com/skip2/go-qrcode"
)

// QRImageDataURL renders a QR code's text as a PNG data URL (size pixels
// square) that a browser shows directly in an <img src>.
func QRImageDataURL(code string, size int) (string, error) {
	png, err := qrcode.Encode(code, qrcode.Medium, size)
	if err != nil {
		return "", fmt.Errorf("graph: render QR code: %w", err)
	}
	return "data:image/png;base64," + base64.StdEncoding.EncodeToString(png), nil
}

// QRImages renders QR data URLs once per code: every page and subscriber
// showing an activation asks for the same few codes (WhatsApp rotates them
// every 20 seconds or so), and rendering a PNG costs far more than a lookup.
type QRImages struct {
	size int
	max  int

	mu    sync.Mutex
	urls  map[string]string
	order []string // insertion order, oldest first, for eviction
}

// NewQRImages returns a renderer of size-pixel images that keeps the last
// max codes.
func NewQRImages(size, max int) *QRImages {
	return &QRImages{size: size, max: max, urls: make(map[string]string, max)}
}

// DataURL returns code's image, rendering it on first use.
func (q *QRImages) DataURL(code string) (string, error) {
	q.mu.Lock()
	url, ok := q.urls[code]
	q.mu.Unlock()
	if ok {
		return url, nil
	}
	url, err := QRImageDataURL(code, q.size)
	if err != nil {
		return "", err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if _, ok := q.urls[code]; !ok {
		if len(q.order) >= q.max {
			delete(q.urls, q.order[0])
			q.order = q.order[1:]
		}
		q.urls[code] = url
		q.order = append(q.order, code)
	}
	return url, nil
}
