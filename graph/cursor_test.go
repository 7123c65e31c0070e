package graph

import (
	"bytes"
	"encoding/base64"
	"image/png"
	"strings"
	"testing"

	"wagraph/internal/apperr"
)

func TestQRImageDataURL(t *testing.T) {
	url, err := QRImageDataURL("2@abc,def,ghi,jkl", 256)
	if err != nil {
		t.Fatal(err)
	}
	const prefix = "data:image/png;base64,"
	if !strings.HasPrefix(url, prefix) {
		t.Fatalf("not a PNG data URL: %.40s", url)
	}
	raw, err := base64.StdEncoding.DecodeString(url[len(prefix):])
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 256 || b.Dy() != 256 {
		t.Fatalf("image is %v, want 256×256", b)
	}
	if _, err := QRImageDataURL(strings.Repeat("x", 8000), 256); err == nil {
		t.Fatal("an over-long code rendered")
	}
}

func TestCursorsRoundTrip(t *testing.T) {
	id, err := afterAccount(ptr(accountCursor("0195-abc")))
	if err != nil || id != "0195-abc" {
		t.Fatalf("account cursor: %q, %v", id, err)
	}
	v, err := beforeVersion(ptr(historyCursor(42)))
	if err != nil || v != 42 {
		t.Fatalf("history cursor: %d, %v", v, err)
	}
	if id, err := afterAccount(nil); id != "" || err != nil {
		t.Fatalf("no cursor: %q, %v", id, err)
	}
	for _, bad := range []string{"%%%", "xyz", encodeCursor(cursorAccount, ""), encodeCursor(cursorHistory, "x"), historyCursor(0), accountCursor("0195-abc")} {
		_, err := beforeVersion(ptr(bad))
		if ae, ok := apperr.As(err); !ok || ae.Code != apperr.InvalidInput || ae.Field != "after" {
			t.Errorf("beforeVersion(%q) = %v, want INVALID_INPUT on after", bad, err)
		}
	}
	for _, bad := range []string{"!!!", historyCursor(3), encodeCursor(cursorAccount, "")} {
		_, err := afterAccount(ptr(bad))
		if ae, ok := apperr.As(err); !ok || ae.Code != apperr.InvalidInput || ae.Field != "after" {
			t.Errorf("afterAccount(%q) = %v, want INVALID_INPUT on after", bad, err)
		}
	}
}

func ptr[T any](v T) *T { return &v }
