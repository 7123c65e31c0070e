package simserver

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"go.mau.fi/whatsmeow"

	"wagraph/internal/config"
)

// Client talks to a simulator process: the control API for tests and demos,
// and Configure/RootPublicKey for wagraph's session manager
// (whatsapp.Simulator), which connects its whatsmeow clients to the
// simulator's websocket.
type Client struct {
	base string
	api  *http.Client
	info Info
	root [32]byte
	ws   *http.Client
}

// tlsServerName is the name in the simulator's TLS certificate (wasim).
const tlsServerName = "web.whatsapp.com"

// Dial connects to the simulator whose control API is at addr (host:port or
// http://host:port) and reads what clients need to trust its websocket.
// It fails, saying so, when nothing answers there.
func Dial(ctx context.Context, addr string) (*Client, error) {
	base, err := config.SimulatorURL(addr)
	if err != nil {
		return nil, err
	}
	c := &Client{base: base, api: &http.Client{Timeout: maxLinkWait + 15*time.Second}}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := c.do(ctx, http.MethodGet, "/v1/info", nil, &c.info); err != nil {
		var apiErr *Error
		if errors.As(err, &apiErr) {
			return nil, fmt.Errorf("%s is not a wagraph simulator: %w", base, err)
		}
		return nil, fmt.Errorf("no simulator answers at %s (start one with `wagraph simulator`): %w", base, err)
	}
	if len(c.info.RootPublicKey) != 32 {
		return nil, fmt.Errorf("the simulator at %s sent a root key of %d bytes, want 32", base, len(c.info.RootPublicKey))
	}
	c.root = [32]byte(c.info.RootPublicKey)
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM([]byte(c.info.TLSCertificate)) {
		return nil, fmt.Errorf("the simulator at %s sent no usable TLS certificate", base)
	}
	_, wsPort, err := net.SplitHostPort(c.info.WebsocketAddr)
	if err != nil {
		return nil, fmt.Errorf("the simulator at %s sent websocket address %q: %w", base, c.info.WebsocketAddr, err)
	}
	u, _ := url.Parse(base)
	wsAddr := net.JoinHostPort(u.Hostname(), wsPort)
	var d net.Dialer
	c.ws = &http.Client{Transport: &http.Transport{
		// whatsmeow dials WhatsApp's host names; every dial goes to the
		// simulator, which presents a certificate for those names.
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return d.DialContext(ctx, "tcp", wsAddr)
		},
		TLSClientConfig:     &tls.Config{RootCAs: pool, ServerName: tlsServerName, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout: 10 * time.Second,
		MaxIdleConns:        1,
	}}
	return c, nil
}

// URL is the control API's base URL.
func (c *Client) URL() string { return c.base }

// Info is what the simulator reported at Dial.
func (c *Client) Info() Info { return c.info }

// RootPublicKey is the key the simulator's Noise certificates are signed
// with, which whatsmeow has to trust (whatsapp.Simulator).
func (c *Client) RootPublicKey() [32]byte { return c.root }

// Configure points a whatsmeow client's websocket and pre-login HTTP at
// the simulator (whatsapp.Simulator).
func (c *Client) Configure(cli *whatsmeow.Client) {
	cli.SetWebsocketHTTPClient(c.ws)
	cli.SetPreLoginHTTPClient(c.ws)
}

// NewPhone creates a simulated phone with a fresh number.
func (c *Client) NewPhone(ctx context.Context) (Phone, error) {
	var p Phone
	err := c.do(ctx, http.MethodPost, "/v1/phones", struct{}{}, &p)
	return p, err
}

// ScanQR has a new simulated phone scan a QR string; it returns the phone
// once the client has accepted the pairing (it then logs in by itself).
func (c *Client) ScanQR(ctx context.Context, qr string) (Phone, error) {
	var p Phone
	err := c.do(ctx, http.MethodPost, "/v1/scan", ScanRequest{QR: qr}, &p)
	return p, err
}

// LinkQR has the existing phone with number scan a QR string, linking one
// more device to its account.
func (c *Client) LinkQR(ctx context.Context, number, qr string) error {
	return c.do(ctx, http.MethodPost, "/v1/scan", ScanRequest{QR: qr, Phone: number}, nil)
}

// PairWithCode types a pairing code on the phone with the number.
func (c *Client) PairWithCode(ctx context.Context, phoneNumber, code string) error {
	return c.do(ctx, http.MethodPost, "/v1/pairing-code", PairingCodeRequest{PhoneNumber: phoneNumber, Code: code}, nil)
}

// AddGroup creates a group the owner's account is in and returns its JID.
func (c *Client) AddGroup(ctx context.Context, g GroupRequest) (string, error) {
	var out GroupResponse
	err := c.do(ctx, http.MethodPost, "/v1/groups", g, &out)
	return out.JID, err
}

// Drop cuts the socket of a device (or of every device of an account).
func (c *Client) Drop(ctx context.Context, jid string) error {
	return c.fault(ctx, FaultDrop, FaultRequest{JID: jid})
}

// LogOut unlinks a device as if removed on the phone.
func (c *Client) LogOut(ctx context.Context, jid string) error {
	return c.fault(ctx, FaultLogOut, FaultRequest{JID: jid})
}

// ReplaceStream ends a device's connection with the "replaced" conflict.
func (c *Client) ReplaceStream(ctx context.Context, jid string) error {
	return c.fault(ctx, FaultReplaceStream, FaultRequest{JID: jid})
}

// TempBan bans a device for expiry with a WhatsApp ban code.
func (c *Client) TempBan(ctx context.Context, jid string, code int, expiry time.Duration) error {
	return c.fault(ctx, FaultTempBan, FaultRequest{JID: jid, Code: code, Expiry: expiry.String()})
}

// LiftBan ends a temporary ban early.
func (c *Client) LiftBan(ctx context.Context, jid string) error {
	return c.fault(ctx, FaultLiftBan, FaultRequest{JID: jid})
}

// RejectSends acks every send of a device with code; 0 accepts again.
func (c *Client) RejectSends(ctx context.Context, jid string, code int) error {
	return c.fault(ctx, FaultRejectSends, FaultRequest{JID: jid, Code: code})
}

// SetHandshakes delays (0: not) or refuses every client's connect.
func (c *Client) SetHandshakes(ctx context.Context, delay time.Duration, refuse bool) error {
	return c.do(ctx, http.MethodPost, "/v1/handshakes", HandshakesRequest{Delay: delay.String(), Refuse: refuse}, nil)
}

// Devices lists the linked devices with their connection counts; a
// non-empty jid limits it to that device or account.
func (c *Client) Devices(ctx context.Context, jid string) (Devices, error) {
	path := "/v1/devices"
	if jid != "" {
		path += "?jid=" + url.QueryEscape(jid)
	}
	var out Devices
	err := c.do(ctx, http.MethodGet, path, nil, &out)
	return out, err
}

func (c *Client) fault(ctx context.Context, fault string, in FaultRequest) error {
	return c.do(ctx, http.MethodPost, "/v1/faults/"+fault, in, nil)
}

// do sends one request; an error answer comes back as *Error.
func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.api.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("simulator %s %s: read answer: %w", method, path, err)
	}
	if resp.StatusCode >= 300 {
		var eb errorBody
		if json.Unmarshal(raw, &eb) != nil || eb.Error.Code == "" {
			return &Error{Status: resp.StatusCode, Code: CodeInternal, Message: fmt.Sprintf("%s %s: %s", method, path, strings.TrimSpace(string(raw)))}
		}
		eb.Error.Status = resp.StatusCode
		return &eb.Error
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("simulator %s %s: unreadable answer: %w", method, path, err)
		}
	}
	return nil
}
