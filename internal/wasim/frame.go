package wasim

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/coder/websocket"

	"go.mau.fi/whatsmeow/socket"
)

// errBadHeader means the client did not open with WhatsApp's connection
// header, so it is not speaking this protocol.
var errBadHeader = errors.New("wasim: bad connection header")

// frameReader cuts the websocket byte stream into WhatsApp frames: a 3-byte
// big-endian length then the data, with the 4-byte connection header once
// at the very start.
type frameReader struct {
	ws      *websocket.Conn
	buf     []byte
	header  []byte
	started bool
}

// next returns the next complete frame.
func (r *frameReader) next(ctx context.Context) ([]byte, error) {
	for {
		if !r.started && len(r.buf) >= len(socket.WAConnHeader) {
			r.header = append([]byte{}, r.buf[:len(socket.WAConnHeader)]...)
			if !bytes.Equal(r.header[:3], socket.WAConnHeader[:3]) {
				return nil, fmt.Errorf("%w: % x", errBadHeader, r.header)
			}
			r.buf = r.buf[len(socket.WAConnHeader):]
			r.started = true
		}
		if r.started && len(r.buf) >= socket.FrameLengthSize {
			n := int(r.buf[0])<<16 | int(r.buf[1])<<8 | int(r.buf[2])
			if len(r.buf) >= socket.FrameLengthSize+n {
				frame := r.buf[socket.FrameLengthSize : socket.FrameLengthSize+n]
				r.buf = r.buf[socket.FrameLengthSize+n:]
				return frame, nil
			}
		}
		typ, data, err := r.ws.Read(ctx)
		if err != nil {
			return nil, err
		}
		if typ == websocket.MessageBinary {
			r.buf = append(r.buf, data...)
		}
	}
}

// encodeFrame prefixes data with its 3-byte length; the server never sends
// the connection header.
func encodeFrame(data []byte) ([]byte, error) {
	if len(data) >= socket.FrameMaxSize {
		return nil, fmt.Errorf("%w: %d bytes", socket.ErrFrameTooLarge, len(data))
	}
	out := make([]byte, socket.FrameLengthSize+len(data))
	out[0], out[1], out[2] = byte(len(data)>>16), byte(len(data)>>8), byte(len(data))
	copy(out[socket.FrameLengthSize:], data)
	return out, nil
}
