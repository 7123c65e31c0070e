package graphiql

import (
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"io/fs"
	"path"
)

// files holds the npm releases that gqlgen's playground page loads from its
// CDN, byte for byte (`npm pack graphiql@4.1.2 react@18.2.0 react-dom@18.2.0`),
// with their licenses. The graphiql bundle is self-contained: graphql-ws (for
// subscriptions), CodeMirror and the fonts (as data: URLs) are inside it.
// Directory names carry the package version, so a new release gets new URLs
// and the year-long browser cache can never serve stale bytes.
//
//go:embed assets/*/*.js assets/*/*.css assets/*/LICENSE
var files embed.FS

// The four files the page references, relative to assets/.
const (
	graphiqlJS  = "graphiql-4.1.2/graphiql.min.js"
	graphiqlCSS = "graphiql-4.1.2/graphiql.min.css"
	reactJS     = "react-18.2.0/react.production.min.js"
	reactDOMJS  = "react-dom-18.2.0/react-dom.production.min.js"
)

// content is one response body with the headers that describe it.
type content struct {
	body         []byte
	contentType  string
	cacheControl string
	etag         string
	sri          string // Subresource Integrity value, "sha256-<base64>"
}

func newContent(body []byte, contentType, cacheControl string) content {
	sum := sha256.Sum256(body)
	return content{
		body:         body,
		contentType:  contentType,
		cacheControl: cacheControl,
		etag:         `"` + hex.EncodeToString(sum[:16]) + `"`,
		sri:          "sha256-" + base64.StdEncoding.EncodeToString(sum[:]),
	}
}

// loadAssets reads every embedded file, keyed by its path under assets/.
// Reading an embed.FS cannot fail at run time, so an error is a build defect.
func loadAssets() map[string]content {
	out := map[string]content{}
	err := fs.WalkDir(files, "assets", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := files.ReadFile(name)
		if err != nil {
			return err
		}
		out[name[len("assets/"):]] = newContent(body, contentTypeOf(name), "public, max-age=31536000, immutable")
		return nil
	})
	if err != nil {
		panic("graphiql: reading embedded assets: " + err.Error())
	}
	return out
}

// contentTypeOf is explicit rather than mime.TypeByExtension, which consults
// the host's mime.types and so varies between machines.
func contentTypeOf(name string) string {
	switch path.Ext(name) {
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	default:
		return "text/plain; charset=utf-8"
	}
}
