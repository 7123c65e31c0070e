package graph

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"os"
	"strconv"
	"strings"

	"github.com/99designs/gqlgen/graphql"
)

// File uploads: a POST of multipart/form-data as the GraphQL multipart
// request spec (https://github.com/jaydenseric/graphql-multipart-request-spec)
// lays it out: a part "operations" (the JSON request: query, variables with
// null where the files go), a part "map" (which file goes to which
// variable path, e.g. {"0": ["variables.input.file"]}), then one part per
// file. Each file is spooled (in memory up to uploadMemoryBytes, then to a
// temporary file, removed when the request ends) and handed to the
// resolver as a graphql.Upload; the files together may not exceed the
// upload limit (IMPORT_UPLOAD_MAX_BYTES), operations and map not the
// request limit (MAX_REQUEST_BYTES).

const mediaMultipart = "multipart/form-data"

// uploadMemoryBytes is how much of an upload is kept in memory before it
// is spooled to a temporary file.
const uploadMemoryBytes = 1 << 20

// maxUploadFiles bounds the files of one request.
const maxUploadFiles = 10

// uploadLimits are what a multipart request may carry.
type uploadLimits struct {
	// MaxBytes bounds the files of one request together; 0 refuses uploads.
	MaxBytes int64
	// MaxFieldBytes bounds the operations and map parts.
	MaxFieldBytes int64
	// MemoryBytes is how much of a file is kept in memory before it is
	// spooled to a temporary file; 0 is uploadMemoryBytes.
	MemoryBytes int64
}

func isMultipart(r *http.Request) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mt == mediaMultipart
}

// spooled is a request's uploaded files, released by close.
type spooled struct{ files []*os.File }

func (s *spooled) close() {
	for _, f := range s.files {
		_ = f.Close()
		_ = os.Remove(f.Name())
	}
	s.files = nil
}

// readMultipart reads a multipart GraphQL request. The caller closes the
// returned spool once the operation is over, whatever the outcome.
func readMultipart(r *http.Request, limits uploadLimits) (*graphql.RawParams, *spooled, *requestError) {
	sp := &spooled{}
	p, rerr := readMultipartParts(r, limits, sp)
	if rerr != nil {
		sp.close()
		return nil, nil, rerr
	}
	return p, sp, nil
}

func readMultipartParts(r *http.Request, limits uploadLimits, sp *spooled) (*graphql.RawParams, *requestError) {
	if limits.MaxBytes <= 0 {
		return nil, badRequest(http.StatusUnsupportedMediaType, "this server takes no file uploads", "Send application/json.")
	}
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, badRequest(http.StatusBadRequest, "the multipart body cannot be read: "+err.Error(),
			"Send 'Content-Type: multipart/form-data; boundary=…' with the parts operations, map and the files (curl -F does).")
	}
	operations, rerr := readField(mr, "operations", limits.MaxFieldBytes)
	if rerr != nil {
		return nil, rerr
	}
	if bytes.HasPrefix(bytes.TrimSpace(operations), []byte("[")) {
		return nil, badRequest(http.StatusBadRequest, "batched operations are not supported",
			"Send one operation per request: operations must be a JSON object.")
	}
	p, rerr := parseParams(operations, "the operations part")
	if rerr != nil {
		return nil, rerr
	}
	rawMap, rerr := readField(mr, "map", limits.MaxFieldBytes)
	if rerr != nil {
		return nil, rerr
	}
	var fileMap map[string][]string
	if err := json.Unmarshal(rawMap, &fileMap); err != nil {
		return nil, badRequest(http.StatusBadRequest, "the map part is not a JSON object of arrays of paths",
			`Send map as e.g. {"0": ["variables.input.file"]}.`)
	}
	if len(fileMap) > maxUploadFiles {
		return nil, badRequest(http.StatusBadRequest, fmt.Sprintf("the request has %d files; at most %d are taken", len(fileMap), maxUploadFiles), "Send fewer files per request.")
	}
	for key, paths := range fileMap {
		if len(paths) == 0 {
			return nil, badRequest(http.StatusBadRequest, fmt.Sprintf("the map gives file %q no variable", clipText(key)), `Map each file to a variable path, e.g. {"0": ["variables.input.file"]}.`)
		}
		for _, path := range paths {
			if rerr := checkUploadPath(p.Variables, path); rerr != nil {
				return nil, rerr
			}
		}
	}
	left := limits.MaxBytes
	for len(fileMap) > 0 {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			for key := range fileMap {
				return nil, badRequest(http.StatusBadRequest, fmt.Sprintf("the map names file %q, but the request has no part of that name", clipText(key)),
					"Send a part for every file the map names, after operations and map.")
			}
		}
		if err != nil {
			return nil, readError(err)
		}
		key := part.FormName()
		paths, ok := fileMap[key]
		if !ok {
			return nil, badRequest(http.StatusBadRequest, fmt.Sprintf("the part %q is not in the map", clipText(key)),
				"Name every file in the map, or leave the part out.")
		}
		delete(fileMap, key)
		up, rerr := spool(part, &left, limits, sp)
		if rerr != nil {
			return nil, rerr
		}
		for i, path := range paths {
			u := up
			if i > 0 { // each variable reads its own copy of the file
				if u, rerr = respool(up, sp); rerr != nil {
					return nil, rerr
				}
			}
			setUploadPath(p.Variables, path, u)
		}
	}
	return p, nil
}

// readField reads the next part, which must be the form field name.
func readField(mr *multipart.Reader, name string, limit int64) ([]byte, *requestError) {
	part, err := mr.NextPart()
	if errors.Is(err, io.EOF) {
		return nil, badRequest(http.StatusBadRequest, "the multipart request has no "+name+" part",
			"Send the parts in the spec's order: operations, map, then the files.")
	}
	if err != nil {
		return nil, readError(err)
	}
	if part.FormName() != name {
		return nil, badRequest(http.StatusBadRequest, fmt.Sprintf("the multipart request has the part %q where %s should be", clipText(part.FormName()), name),
			"Send the parts in the spec's order: operations, map, then the files.")
	}
	b, err := io.ReadAll(io.LimitReader(part, limit+1))
	if err != nil {
		return nil, readError(err)
	}
	if int64(len(b)) > limit {
		return nil, badRequest(http.StatusRequestEntityTooLarge, fmt.Sprintf("the %s part is larger than %d bytes (MAX_REQUEST_BYTES)", name, limit),
			"Send the files as file parts, not inside "+name+".")
	}
	return b, nil
}

func readError(err error) *requestError {
	if mbe, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return badRequest(http.StatusRequestEntityTooLarge, fmt.Sprintf("the request body is too large: more than %d bytes", mbe.Limit),
			"Send a smaller file (IMPORT_UPLOAD_MAX_BYTES bounds uploads), or split it.")
	}
	return badRequest(http.StatusBadRequest, "the multipart body cannot be read: "+err.Error(), "")
}

// spool reads one file part within the bytes left of the upload limit.
func spool(part *multipart.Part, left *int64, limits uploadLimits, sp *spooled) (graphql.Upload, *requestError) {
	limit, memory := limits.MaxBytes, limits.MemoryBytes
	if memory <= 0 {
		memory = uploadMemoryBytes
	}
	up := graphql.Upload{Filename: part.FileName(), ContentType: part.Header.Get("Content-Type")}
	tooLarge := badRequest(http.StatusRequestEntityTooLarge,
		fmt.Sprintf("the upload is larger than %d bytes, the most this server takes (IMPORT_UPLOAD_MAX_BYTES)", limit),
		"Split the file into smaller ones, or ask the operators to raise IMPORT_UPLOAD_MAX_BYTES.")
	head, err := io.ReadAll(io.LimitReader(part, min(memory, *left)+1))
	if err != nil {
		return up, readError(err)
	}
	if int64(len(head)) <= memory && int64(len(head)) <= *left {
		*left -= int64(len(head))
		up.File, up.Size = bytes.NewReader(head), int64(len(head))
		return up, nil
	}
	if int64(len(head)) > *left {
		return up, tooLarge
	}
	f, err := os.CreateTemp("", "wagraph-upload-*")
	if err != nil {
		return up, badRequest(http.StatusInternalServerError, "the upload could not be stored: "+err.Error(), "Try again later.")
	}
	sp.files = append(sp.files, f)
	n, err := io.Copy(f, io.MultiReader(bytes.NewReader(head), io.LimitReader(part, *left-int64(len(head))+1)))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return up, tooLarge
		}
		return up, readError(err)
	}
	if n > *left {
		return up, tooLarge
	}
	*left -= n
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return up, badRequest(http.StatusInternalServerError, "the upload could not be read back: "+err.Error(), "Try again later.")
	}
	up.File, up.Size = f, n
	return up, nil
}

// respool gives a second variable its own reader of the same file.
func respool(up graphql.Upload, sp *spooled) (graphql.Upload, *requestError) {
	cp := up
	switch f := up.File.(type) {
	case *bytes.Reader:
		b := make([]byte, f.Size())
		_, _ = f.ReadAt(b, 0)
		cp.File = bytes.NewReader(b)
	case *os.File:
		g, err := os.Open(f.Name())
		if err != nil {
			return cp, badRequest(http.StatusInternalServerError, "the upload could not be read back: "+err.Error(), "Try again later.")
		}
		sp.files = append(sp.files, g)
		cp.File = g
	}
	return cp, nil
}

// checkUploadPath checks that path ("variables.input.file",
// "variables.files.0") names a null in the variables, as the spec asks.
func checkUploadPath(vars map[string]any, path string) *requestError {
	bad := func(why string) *requestError {
		return badRequest(http.StatusBadRequest, fmt.Sprintf("the map path %q %s", clipText(path), why),
			`Map files to null variables, e.g. {"0": ["variables.input.file"]} with "input": {"file": null}.`)
	}
	parts := strings.Split(path, ".")
	if len(parts) < 2 || parts[0] != "variables" {
		return bad("does not start with variables.")
	}
	var cur any = vars
	for _, key := range parts[1:] {
		switch c := cur.(type) {
		case map[string]any:
			v, ok := c[key]
			if !ok {
				return bad("names no variable")
			}
			cur = v
		case []any:
			i, err := strconv.Atoi(key)
			if err != nil || i < 0 || i >= len(c) {
				return bad("names no list item")
			}
			cur = c[i]
		default:
			return bad("names no variable")
		}
	}
	if cur != nil {
		return bad("names a variable that is not null")
	}
	return nil
}

// setUploadPath puts up where a checked path points.
func setUploadPath(vars map[string]any, path string, up graphql.Upload) {
	parts := strings.Split(path, ".")[1:]
	var cur any = vars
	for i, key := range parts {
		last := i == len(parts)-1
		switch c := cur.(type) {
		case map[string]any:
			if last {
				c[key] = up
				return
			}
			cur = c[key]
		case []any:
			n, _ := strconv.Atoi(key)
			if last {
				c[n] = up
				return
			}
			cur = c[n]
		}
	}
}

func clipText(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
