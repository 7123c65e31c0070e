package wasim

import (
	"net/http"

	"github.com/coder/websocket"

	"go.mau.fi/whatsmeow/socket"
)

// serveWebsocket upgrades a request to the chat websocket and runs the
// connection until either side closes it. While handshakes are refused the
// upgrade is answered with 503, as a WhatsApp edge under maintenance does;
// whatsmeow treats that as a retryable connect error.
func (s *Simulator) serveWebsocket(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	if s.closed || s.refuse {
		s.mu.Unlock()
		http.Error(w, "wasim: handshakes refused", http.StatusServiceUnavailable)
		return
	}
	s.wg.Add(1)
	s.mu.Unlock()
	defer s.wg.Done()

	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		s.log.Warn().Err(err).Msg("websocket upgrade failed")
		return
	}
	ws.SetReadLimit(2 * socket.FrameMaxSize)
	c := newConn(s, ws)
	s.mu.Lock()
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	c.serve()
}
