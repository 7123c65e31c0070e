package graph

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql"
)

// FuzzReadMultipart feeds readMultipart arbitrary bodies: whatever a client
// sends, it answers parameters or a coded refusal with an HTTP status,
// never panics, never hands a resolver more than the upload limit, and
// leaves no temporary file behind. Run it longer with
//
//	go test -run='^$' -fuzz='^FuzzReadMultipart$' -fuzztime=10m ./graph
func FuzzReadMultipart(f *testing.F) {
	const boundary = "fuzzboundary"
	part := func(name, file, body string) string {
		disp := `form-data; name="` + name + `"`
		if file != "" {
			disp += `; filename="` + file + `"`
		}
		return "--" + boundary + "\r\nContent-Disposition: " + disp + "\r\n\r\n" + body + "\r\n"
	}
	ops := `{"query":"mutation($f: Upload!) { x(f: $f) }","variables":{"f":null,"l":[null,{"g":null}]}}`
	for _, seed := range []string{
		part("operations", "", ops) + part("map", "", `{"0":["variables.f"]}`) + part("0", "a.csv", "phone\n+4915123456789\n") + "--" + boundary + "--\r\n",
		part("operations", "", ops) + part("map", "", `{"0":["variables.f","variables.l.0"],"1":["variables.l.1.g"]}`) + part("0", "a", "x") + part("1", "b", strings.Repeat("y", 300)) + "--" + boundary + "--\r\n",
		part("operations", "", ops) + part("map", "", `{"0":["variables.nope"]}`) + "--" + boundary + "--\r\n",
		part("map", "", `{}`) + part("operations", "", ops) + "--" + boundary + "--\r\n",
		part("operations", "", "["+ops+"]") + "--" + boundary + "--\r\n",
		part("operations", "", ops) + part("map", "", `{"0":["variables.f"]}`) + part("0", "a.csv", "trunc"),
		"",
	} {
		f.Add([]byte(seed))
	}
	tmp := f.TempDir()
	f.Setenv("TMPDIR", tmp)
	limits := uploadLimits{MaxBytes: 256, MaxFieldBytes: 512, MemoryBytes: 64}
	f.Fuzz(func(t *testing.T, body []byte) {
		r := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(body))
		r.Header.Set("Content-Type", "multipart/form-data; boundary="+boundary)
		p, files, rerr := readMultipart(r, limits)
		if rerr != nil {
			if rerr.err == nil || rerr.err.Message == "" || rerr.status < 400 || rerr.status > 599 {
				t.Fatalf("refusal without a coded error or a 4xx/5xx status: %+v", rerr)
			}
			if p != nil || files != nil {
				t.Fatal("a refusal also returned parameters")
			}
		} else {
			var total int64
			walkUploads(p.Variables, func(u graphql.Upload) {
				n, err := io.Copy(io.Discard, u.File)
				if err != nil || n != u.Size {
					t.Fatalf("upload of %d bytes read %d (%v)", u.Size, n, err)
				}
				total += n
			})
			if total > limits.MaxBytes {
				t.Fatalf("%d bytes of uploads over a limit of %d", total, limits.MaxBytes)
			}
			files.close()
		}
		if left, _ := os.ReadDir(tmp); len(left) > 0 {
			t.Fatalf("temporary files left: %v", left)
		}
	})
}

func walkUploads(v any, fn func(graphql.Upload)) {
	switch v := v.(type) {
	case graphql.Upload:
		fn(v)
	case map[string]any:
		for _, c := range v {
			walkUploads(c, fn)
		}
	case []any:
		for _, c := range v {
			walkUploads(c, fn)
		}
	}
}
