package graph

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"wagraph/internal/apperr"
)

// The response media types of the GraphQL-over-HTTP spec.
const (
	mediaJSON         = "application/json"
	mediaGraphQLReply = "application/graphql-response+json"
)

// JSON limits of a request's parameters, checked by one pass over the bytes
// before anything is decoded: decoding is what costs, about 0.2 µs a value.
const (
	maxJSONValues = 25_000
	maxJSONDepth  = 64
)

// httpTransport serves GraphQL over plain HTTP (GET and POST) as the
// GraphQL-over-HTTP spec (https://graphql.github.io/graphql-over-http/draft/)
// asks, which gqlgen's own GET and POST transports do not quite do:
//
//   - the response is application/graphql-response+json or application/json,
//     whichever the Accept header prefers (application/json when it is
//     missing or */*); 406 when it accepts neither;
//   - a request that is not GraphQL at all (wrong method or content type,
//     body or parameters that are not what the spec says) is refused with a
//     4xx status and a BAD_REQUEST error that says what to send instead;
//   - a document that does not parse or validate, or variables that do not
//     fit, answer 200 under application/json (clients such as Apollo Client
//     read the errors only from a 2xx) and 400 under
//     application/graphql-response+json, without a data key in both;
//   - GET runs queries only: a mutation answers 405 with Allow: POST.
//
// Every error goes through the error presenter, so each has a code and a
// suggestion.
type httpTransport struct {
	// uploads bounds multipart requests with files (upload.go).
	uploads uploadLimits
}

var _ graphql.Transport = httpTransport{}

// Supports implements graphql.Transport: every request but websocket
// upgrades and OPTIONS/HEAD (transport.Options answers those).
func (httpTransport) Supports(r *http.Request) bool {
	return r.Header.Get("Upgrade") == "" && r.Method != http.MethodOptions && r.Method != http.MethodHead
}

// requestError is a refusal before the document is run: its HTTP status and
// the coded error.
type requestError struct {
	status int
	err    *apperr.Error
	allow  string // the Allow header for 405
}

func badRequest(status int, message, suggestion string) *requestError {
	e := apperr.New(apperr.BadRequest, message)
	if suggestion != "" {
		e = e.WithSuggestion(suggestion)
	}
	return &requestError{status: status, err: e}
}

// Do implements graphql.Transport.
func (t httpTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	ctx := r.Context()
	media, ok := negotiate(r.Header.Get("Accept"))
	if !ok {
		t.refuse(w, r, exec, mediaJSON, badRequest(http.StatusNotAcceptable,
			fmt.Sprintf("this server answers %s or %s, and the Accept header %q allows neither", mediaGraphQLReply, mediaJSON, r.Header.Get("Accept")),
			"Send 'Accept: application/graphql-response+json, application/json' (or leave Accept out)."))
		return
	}
	start := graphql.Now()
	var params *graphql.RawParams
	var rerr *requestError
	switch r.Method {
	case http.MethodPost:
		if isMultipart(r) {
			var files *spooled
			params, files, rerr = readMultipart(r, t.uploads)
			if files != nil {
				defer files.close()
			}
		} else {
			params, rerr = readPOST(r)
		}
	case http.MethodGet:
		params, rerr = readGET(r)
	default:
		rerr = badRequest(http.StatusMethodNotAllowed,
			"GraphQL over HTTP is served to GET and POST, not "+r.Method, "")
		rerr.allow = "GET, POST, OPTIONS"
	}
	if rerr != nil {
		t.refuse(w, r, exec, media, rerr)
		return
	}
	params.Headers = r.Header
	params.ReadTime = graphql.TraceTiming{Start: start, End: graphql.Now()}

	opCtx, errs := exec.CreateOperationContext(ctx, params)
	if errs != nil {
		// The document did not parse or validate, or the variables did
		// not fit: a GraphQL error, not an HTTP one (see the type's doc).
		status := http.StatusOK
		if media == mediaGraphQLReply {
			status = http.StatusBadRequest
		}
		resp := exec.DispatchError(graphql.WithOperationContext(ctx, opCtx), errs)
		writeResponse(w, media, status, resp, false)
		return
	}
	if r.Method == http.MethodGet && opCtx.Operation.Operation != ast.Query {
		rerr := badRequest(http.StatusMethodNotAllowed,
			fmt.Sprintf("GET runs queries only; this is a %s", opCtx.Operation.Operation),
			"Send mutations with POST (Content-Type: application/json), and subscriptions over the websocket.")
		rerr.allow = "POST"
		t.refuse(w, r, exec, media, rerr)
		return
	}
	responses, ctx := exec.DispatchOperation(ctx, opCtx)
	resp := responses(ctx)
	if resp == nil { // the client went away
		return
	}
	writeResponse(w, media, http.StatusOK, resp, true)
}

// refuse answers a request that never reached the executor.
func (httpTransport) refuse(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor, media string, rerr *requestError) {
	if rerr.allow != "" {
		w.Header().Set("Allow", rerr.allow)
	}
	resp := exec.DispatchError(r.Context(), gqlerror.List{{Message: rerr.err.Message, Err: rerr.err}})
	writeResponse(w, media, rerr.status, resp, false)
}

// writeResponse writes resp; withData says whether the operation ran, so that
// the response has a data key (possibly null). Responses to requests that
// never ran have none, as the spec asks.
func writeResponse(w http.ResponseWriter, media string, status int, resp *graphql.Response, withData bool) {
	var body []byte
	var err error
	if withData {
		body, err = json.Marshal(resp)
	} else {
		body, err = json.Marshal(struct {
			Errors     gqlerror.List  `json:"errors,omitempty"`
			Extensions map[string]any `json:"extensions,omitempty"`
		}{resp.Errors, resp.Extensions})
	}
	if err != nil { // only a resolver's unencodable value could do this
		status = http.StatusInternalServerError
		body = []byte(`{"errors":[{"message":"the response could not be encoded","extensions":{"code":"INTERNAL","retryable":true}}]}`)
	}
	w.Header().Set("Content-Type", media+"; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// negotiate picks the response media type from Accept: the supported type
// with the highest q, the earlier one on a tie; */* and application/* mean
// application/json, as does a missing header.
func negotiate(accept string) (string, bool) {
	if strings.TrimSpace(accept) == "" {
		return mediaJSON, true
	}
	best, bestQ := "", 0.0
	for part := range strings.SplitSeq(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		q := 1.0
		if s, ok := params["q"]; ok {
			if q, err = strconv.ParseFloat(s, 64); err != nil {
				continue
			}
		}
		var media string
		switch mt {
		case mediaGraphQLReply:
			media = mediaGraphQLReply
		case mediaJSON, "*/*", "application/*":
			media = mediaJSON
		default:
			continue
		}
		if q > bestQ {
			best, bestQ = media, q
		}
	}
	return best, best != ""
}

// readPOST reads a POST body: a JSON object with query, and optionally
// operationName, variables and extensions.
func readPOST(r *http.Request) (*graphql.RawParams, *requestError) {
	ct := r.Header.Get("Content-Type")
	mt, ctParams, err := mime.ParseMediaType(ct)
	if err != nil || mt != mediaJSON || !utf8Charset(ctParams["charset"]) {
		if ct == "" {
			ct = "none"
		}
		return nil, badRequest(http.StatusUnsupportedMediaType,
			"POST bodies must be application/json (UTF-8), or multipart/form-data for file uploads; the Content-Type was "+ct,
			"Send 'Content-Type: application/json' with a JSON object body {\"query\": \"...\", \"variables\": {...}}.")
	}
	var body []byte
	if r.Body != nil {
		body, err = io.ReadAll(r.Body)
		if err != nil {
			if mbe, ok := errors.AsType[*http.MaxBytesError](err); ok {
				return nil, badRequest(http.StatusRequestEntityTooLarge,
					fmt.Sprintf("the request body is too large: more than %d bytes (MAX_REQUEST_BYTES)", mbe.Limit),
					"Send a smaller request: split the operation or its input, or ask the operators to raise MAX_REQUEST_BYTES.")
			}
			return nil, badRequest(http.StatusBadRequest, "the request body could not be read: "+err.Error(), "")
		}
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, badRequest(http.StatusBadRequest, "the request body is empty", "")
	}
	return parseParams(body, "the request body")
}

// parseParams reads a JSON request object: query, and optionally
// operationName, variables and extensions.
func parseParams(body []byte, what string) (*graphql.RawParams, *requestError) {
	if rerr := checkJSON(body, what); rerr != nil {
		return nil, rerr
	}
	var raw map[string]any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil || dec.More() {
		return nil, badRequest(http.StatusBadRequest, what+" is not a JSON object", "")
	}
	p := &graphql.RawParams{}
	query, ok := raw["query"].(string)
	if !ok {
		return nil, badParam("query", raw["query"], "a string")
	}
	p.Query = query
	if v, ok := raw["operationName"]; ok && v != nil {
		if p.OperationName, ok = v.(string); !ok {
			return nil, badParam("operationName", v, "a string or null")
		}
	}
	for _, name := range []string{"variables", "extensions"} {
		v, ok := raw[name]
		if !ok || v == nil {
			continue
		}
		m, ok := v.(map[string]any)
		if !ok {
			return nil, badParam(name, v, "a JSON object or null")
		}
		if name == "variables" {
			p.Variables = m
		} else {
			p.Extensions = m
		}
	}
	return p, nil
}

func badParam(name string, v any, want string) *requestError {
	if v == nil {
		return badRequest(http.StatusBadRequest, "the request has no "+name, "")
	}
	return badRequest(http.StatusBadRequest, fmt.Sprintf("the request's %s is %s; it must be %s", name, jsonKind(v), want), "")
}

func jsonKind(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return "null"
}

func utf8Charset(cs string) bool {
	return cs == "" || strings.EqualFold(cs, "utf-8") || strings.EqualFold(cs, "utf8")
}

// readGET reads the URL parameters of a GET: query, and optionally
// operationName, and variables and extensions as URL-encoded JSON objects.
func readGET(r *http.Request) (*graphql.RawParams, *requestError) {
	values, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, badRequest(http.StatusBadRequest, "the URL's query string is malformed: "+err.Error(),
			"URL-encode each parameter: ?query=...&variables=...")
	}
	if !values.Has("query") {
		return nil, badRequest(http.StatusBadRequest, "the request has no query parameter",
			"Send ?query=<URL-encoded GraphQL query>, with variables as a URL-encoded JSON object.")
	}
	p := &graphql.RawParams{Query: values.Get("query"), OperationName: values.Get("operationName")}
	for _, name := range []string{"variables", "extensions"} {
		s := values.Get(name)
		if s == "" {
			continue
		}
		if rerr := checkJSON([]byte(s), "the "+name+" parameter"); rerr != nil {
			return nil, rerr
		}
		var m map[string]any
		dec := json.NewDecoder(strings.NewReader(s))
		dec.UseNumber()
		if err := dec.Decode(&m); err != nil || dec.More() {
			return nil, badRequest(http.StatusBadRequest,
				fmt.Sprintf("the %s parameter is not a JSON object: %.80q", name, s),
				fmt.Sprintf("Send %s as a URL-encoded JSON object, e.g. %s=%s.", name, name, url.QueryEscape(`{"id":"42"}`)))
		}
		if name == "variables" {
			p.Variables = m
		} else {
			p.Extensions = m
		}
	}
	return p, nil
}

// checkJSON refuses JSON whose decoding would cost more than its size
// suggests: more than maxJSONValues values or deeper than maxJSONDepth. It
// only counts; malformed JSON is left to the decoder.
func checkJSON(b []byte, what string) *requestError {
	values, depth := 0, 0
	for i := 0; i < len(b); i++ {
		switch c := b[i]; c {
		case '"':
			values++
			for i++; i < len(b) && b[i] != '"'; i++ {
				if b[i] == '\\' {
					i++
				}
			}
		case '{', '[':
			values++
			depth++
			if depth > maxJSONDepth {
				return badRequest(http.StatusBadRequest,
					fmt.Sprintf("%s nests JSON more than %d levels deep", what, maxJSONDepth),
					"Send flatter variables; no input of this API nests that deeply.")
			}
		case '}', ']':
			depth--
		case 't', 'f', 'n', '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
			values++
			for i+1 < len(b) && !jsonDelimiter(b[i+1]) {
				i++
			}
		}
		if values > maxJSONValues {
			return badRequest(http.StatusRequestEntityTooLarge,
				fmt.Sprintf("%s has more than %d JSON values", what, maxJSONValues),
				"Send the input in several smaller requests.")
		}
	}
	return nil
}

func jsonDelimiter(c byte) bool {
	switch c {
	case ',', ']', '}', ':', ' ', '\t', '\r', '\n':
		return true
	}
	return false
}
