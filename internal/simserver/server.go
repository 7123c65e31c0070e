package simserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/rs/zerolog"

	"go.mau.fi/whatsmeow/types"

	"wagraph/internal/wasim"
)

// maxBodyBytes bounds a control request's body: the largest is a group with
// its participants, and 1 MiB holds thousands of them.
const maxBodyBytes = 1 << 20

// maxLinkWait bounds one scan or pairing-code entry, which waits for the
// client's answers over its websocket.
const maxLinkWait = 30 * time.Second

// api serves the control API of one simulator.
type api struct {
	sim *wasim.Simulator
	log zerolog.Logger
}

// Handler serves the control API of sim (docs/simulator.md). It calls the
// same methods tests call in-process.
func Handler(sim *wasim.Simulator, log zerolog.Logger) http.Handler {
	a := &api{sim: sim, log: log}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, http.StatusOK, struct{}{}) })
	mux.HandleFunc("GET /v1/info", a.info)
	mux.HandleFunc("POST /v1/phones", a.newPhone)
	mux.HandleFunc("POST /v1/scan", a.scan)
	mux.HandleFunc("POST /v1/pairing-code", a.pairingCode)
	mux.HandleFunc("POST /v1/groups", a.addGroup)
	mux.HandleFunc("POST /v1/faults/{fault}", a.fault)
	mux.HandleFunc("POST /v1/handshakes", a.handshakes)
	mux.HandleFunc("GET /v1/devices", a.devices)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, &Error{Status: http.StatusNotFound, Code: CodeNotFound,
			Message: fmt.Sprintf("no endpoint %s %s; see docs/simulator.md for the control API", r.Method, r.URL.Path)})
	})
	return mux
}

func (a *api) info(w http.ResponseWriter, _ *http.Request) {
	root := a.sim.RootPublicKey()
	writeJSON(w, http.StatusOK, Info{
		WebsocketAddr:  a.sim.Addr(),
		RootPublicKey:  root[:],
		TLSCertificate: string(a.sim.TLSCertificatePEM()),
	})
}

func (a *api) newPhone(w http.ResponseWriter, r *http.Request) {
	var in struct{}
	if !decode(w, r, &in) {
		return
	}
	writeJSON(w, http.StatusCreated, phoneOf(a.sim.NewPhone()))
}

func (a *api) scan(w http.ResponseWriter, r *http.Request) {
	var in ScanRequest
	if !decode(w, r, &in) {
		return
	}
	if in.QR == "" || len(in.QR) > 1024 {
		writeError(w, badRequest("qr: give the QR string the client shows (account.activation.qr.code), at most 1024 characters"))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), maxLinkWait)
	defer cancel()
	var phone *wasim.Phone
	var err error
	if in.Phone != "" {
		if phone = a.sim.Phone(in.Phone); phone == nil {
			writeError(w, &Error{Status: http.StatusNotFound, Code: CodeNotFound,
				Message: fmt.Sprintf("phone %q is not a simulated phone; create one with POST /v1/phones or leave phone out", in.Phone)})
			return
		}
		err = a.sim.LinkQR(ctx, phone, in.QR)
	} else {
		phone, err = a.sim.ScanQR(ctx, in.QR)
	}
	if err != nil {
		a.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, phoneOf(phone))
}

func (a *api) pairingCode(w http.ResponseWriter, r *http.Request) {
	var in PairingCodeRequest
	if !decode(w, r, &in) {
		return
	}
	if _, ok := phoneDigits(in.PhoneNumber); !ok {
		writeError(w, badRequest("phoneNumber %q: give the number the pairing code was requested for, e.g. +49 151 23456789", in.PhoneNumber))
		return
	}
	if in.Code == "" || len(in.Code) > 16 {
		writeError(w, badRequest("code: give the pairing code the client shows (8 characters, e.g. ABCD-EFGH)"))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), maxLinkWait)
	defer cancel()
	if err := a.sim.PairWithCode(ctx, in.PhoneNumber, in.Code); err != nil {
		a.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, struct{}{})
}

func (a *api) addGroup(w http.ResponseWriter, r *http.Request) {
	var in GroupRequest
	if !decode(w, r, &in) {
		return
	}
	owner, err := parseUser(in.Owner, types.DefaultUserServer)
	if err != nil {
		writeError(w, badRequest("owner: %v", err))
		return
	}
	if len(in.Name) > 100 || !utf8.ValidString(in.Name) || len(in.Topic) > 2048 || !utf8.ValidString(in.Topic) {
		writeError(w, badRequest("name (at most 100 bytes) and topic (at most 2048) must be UTF-8 text"))
		return
	}
	spec := wasim.GroupSpec{Name: in.Name, Topic: in.Topic, AddressingMode: in.AddressingMode}
	for i, p := range in.Participants {
		var part wasim.Participant
		if p.Phone != "" {
			if part.Phone, err = parseUser(p.Phone, types.DefaultUserServer); err != nil {
				writeError(w, badRequest("participants[%d].phone: %v", i, err))
				return
			}
		}
		if p.LID != "" {
			if part.LID, err = parseUser(p.LID, types.HiddenUserServer); err != nil {
				writeError(w, badRequest("participants[%d].lid: %v", i, err))
				return
			}
		}
		part.Admin = p.Admin
		spec.Participants = append(spec.Participants, part)
	}
	jid, err := a.sim.AddGroup(owner, spec)
	if err != nil {
		a.fail(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, GroupResponse{JID: jid.String()})
}

func (a *api) fault(w http.ResponseWriter, r *http.Request) {
	var in FaultRequest
	if !decode(w, r, &in) {
		return
	}
	jid, err := parseJID(in.JID)
	if err != nil {
		writeError(w, badRequest("jid: %v", err))
		return
	}
	switch fault := r.PathValue("fault"); fault {
	case FaultDrop:
		err = a.sim.Drop(jid)
	case FaultLogOut:
		err = a.sim.LogOut(jid)
	case FaultReplaceStream:
		err = a.sim.ReplaceStream(jid)
	case FaultTempBan:
		expiry, perr := time.ParseDuration(in.Expiry)
		if perr != nil || expiry <= 0 || in.Code <= 0 {
			writeError(w, badRequest("temp-ban needs code (a WhatsApp ban code such as 101) and expiry (a duration such as 10m)"))
			return
		}
		err = a.sim.TempBan(jid, in.Code, expiry)
	case FaultLiftBan:
		a.sim.LiftBan(jid)
	case FaultRejectSends:
		if in.Code < 0 || in.Code > 999 {
			writeError(w, badRequest("reject-sends: code is the error code sends are acked with (e.g. 463), or 0 to accept sends again"))
			return
		}
		err = a.sim.RejectSends(jid, in.Code)
	default:
		writeError(w, &Error{Status: http.StatusNotFound, Code: CodeNotFound, Message: fmt.Sprintf("no fault %q; use one of %s",
			fault, strings.Join([]string{FaultDrop, FaultLogOut, FaultReplaceStream, FaultTempBan, FaultLiftBan, FaultRejectSends}, ", "))})
		return
	}
	if err != nil {
		a.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, struct{}{})
}

func (a *api) handshakes(w http.ResponseWriter, r *http.Request) {
	var in HandshakesRequest
	if !decode(w, r, &in) {
		return
	}
	var delay time.Duration
	if in.Delay != "" {
		d, err := time.ParseDuration(in.Delay)
		if err != nil || d < 0 || d > 10*time.Minute {
			writeError(w, badRequest("delay %q: a duration from 0s to 10m, such as 2s", in.Delay))
			return
		}
		delay = d
	}
	a.sim.SetHandshakeDelay(delay)
	a.sim.RefuseHandshakes(in.Refuse)
	writeJSON(w, http.StatusOK, struct{}{})
}

func (a *api) devices(w http.ResponseWriter, r *http.Request) {
	var filter types.JID
	if q := r.URL.Query().Get("jid"); q != "" {
		var err error
		if filter, err = parseJID(q); err != nil {
			writeError(w, badRequest("jid: %v", err))
			return
		}
	}
	out := Devices{Devices: []Device{}}
	for _, d := range a.sim.DeviceList() {
		if !filter.IsEmpty() && !matches(filter, d) {
			continue
		}
		out.Devices = append(out.Devices, Device{
			JID: d.JID.String(), LID: d.LID.String(), Phone: d.Phone, Connected: d.Connected,
			Logins: d.Logins, Replaced: d.Replaced,
		})
		out.Totals.Devices++
		if d.Connected {
			out.Totals.Connected++
		}
		out.Totals.Logins += d.Logins
		out.Totals.Replaced += d.Replaced
	}
	writeJSON(w, http.StatusOK, out)
}

// matches reports whether a device is the one filter names, or one of the
// account's when filter is an account (device 0) JID.
func matches(filter types.JID, d wasim.DeviceInfo) bool {
	for _, j := range []types.JID{d.JID, d.LID} {
		if j.Server != filter.Server || j.User != filter.User {
			continue
		}
		if filter.Device == 0 || filter.Device == j.Device {
			return true
		}
	}
	return false
}

// fail answers with the API error for err; errors the API has no code for
// are logged too.
func (a *api) fail(w http.ResponseWriter, err error) {
	e := errorFor(err)
	if e.Status >= http.StatusInternalServerError {
		a.log.Error().Err(err).Msg("control API request failed")
	}
	writeError(w, e)
}

func phoneOf(p *wasim.Phone) Phone {
	return Phone{Number: p.Number, JID: p.JID.String(), LID: p.LID.String()}
}

// parseJID reads a user or device JID on s.whatsapp.net or lid.
func parseJID(s string) (types.JID, error) {
	if s == "" || len(s) > 128 {
		return types.EmptyJID, errors.New("give a JID such as 15550100001@s.whatsapp.net (account) or 15550100001:1@s.whatsapp.net (device)")
	}
	jid, err := types.ParseJID(s)
	if err != nil || jid.User == "" || (jid.Server != types.DefaultUserServer && jid.Server != types.HiddenUserServer) {
		return types.EmptyJID, fmt.Errorf("%q is not a user or device JID such as 15550100001@s.whatsapp.net", s)
	}
	return jid, nil
}

// parseUser reads an account JID, or a bare number (+15550100001) as a
// JID on server.
func parseUser(s, server string) (types.JID, error) {
	if !strings.Contains(s, "@") {
		d, ok := phoneDigits(s)
		if !ok {
			return types.EmptyJID, fmt.Errorf("%q is neither a JID nor a phone number", s)
		}
		return types.NewJID(d, server), nil
	}
	jid, err := parseJID(s)
	if err != nil {
		return jid, err
	}
	if jid.Server != server {
		return types.EmptyJID, fmt.Errorf("%q must be on %s", s, server)
	}
	return jid.ToNonAD(), nil
}

// phoneDigits reads a phone number written with digits, an optional plus
// and the usual separators, and returns its 8 to 15 digits.
func phoneDigits(s string) (string, bool) {
	if len(s) > 32 {
		return "", false
	}
	var d strings.Builder
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			d.WriteRune(r)
		case strings.ContainsRune("+ -().", r):
		default:
			return "", false
		}
	}
	return d.String(), d.Len() >= 8 && d.Len() <= 15
}

// decode reads a JSON body of at most maxBodyBytes into v, refusing unknown
// fields and trailing data; on failure it has answered.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		writeError(w, &Error{Status: http.StatusUnsupportedMediaType, Code: CodeBadRequest,
			Message: fmt.Sprintf("Content-Type %q: send JSON as application/json (curl: -H 'Content-Type: application/json'); "+
				"other types are refused so that no web page can post here", ct)})
		return false
	}
	body := http.MaxBytesReader(w, r.Body, maxBodyBytes)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if errors.Is(err, io.EOF) {
		err = nil // an empty body is an empty object
	}
	if err == nil && dec.More() {
		err = errors.New("trailing data after the JSON object")
	}
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, &Error{Status: http.StatusRequestEntityTooLarge, Code: CodeTooLarge,
				Message: fmt.Sprintf("the body is larger than %d bytes", maxBodyBytes)})
			return false
		}
		writeError(w, badRequest("unreadable JSON body: %v", err))
		return false
	}
	return true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, e *Error) {
	writeJSON(w, e.Status, errorBody{Error: *e})
}
