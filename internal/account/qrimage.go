package account

import (
	"encoding/base64"
	"fmt"

	qrcode "github.com/skip2/go-qrcode"
)

// QRImageDataURL renders a QR code's text as a PNG data URL (size pixels
// square) that a browser shows directly in an <img src>.
func QRImageDataURL(code string, size int) (string, error) {
	png, err := qrcode.Encode(code, qrcode.Medium, size)
	if err != nil {
		return "", fmt.Errorf("account: render QR code: %w", err)
	}
	return "data:image/png;base64," + base64.StdEncoding.EncodeToString(png), nil
}
