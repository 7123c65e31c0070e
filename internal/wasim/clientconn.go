package wasim

import (
	"context"
	"net"
	"sync"
	"time"
)

// clientSideWait bounds how long Close waits for clients to notice that
// the server closed their sockets.
const clientSideWait = 5 * time.Second

// clientConns tracks the client ends of the connections dialled through
// HTTPClient, so that Close can wait until every client's read loop has
// seen its socket end (whatsmeow closes its end when that loop exits). Then
// no client goroutine is still talking to the simulator when Close returns.
type clientConns struct {
	mu   sync.Mutex
	open map[*trackedConn]struct{}
}

// trackedConn is a client-side connection that reports its close.
type trackedConn struct {
	net.Conn
	owner *clientConns
	once  sync.Once
	done  chan struct{}
}

func (c *trackedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.owner.mu.Lock()
		delete(c.owner.open, c)
		c.owner.mu.Unlock()
		close(c.done)
	})
	return err
}

func (cc *clientConns) dial(ctx context.Context, addr string) (net.Conn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	tc := &trackedConn{Conn: conn, owner: cc, done: make(chan struct{})}
	cc.mu.Lock()
	cc.open[tc] = struct{}{}
	cc.mu.Unlock()
	return tc, nil
}

// wait blocks until every tracked connection is closed by its client or the
// timeout passes, and says which.
func (cc *clientConns) wait(timeout time.Duration) bool {
	deadline := time.After(timeout)
	for {
		cc.mu.Lock()
		var next *trackedConn
		for c := range cc.open {
			next = c
			break
		}
		cc.mu.Unlock()
		if next == nil {
			return true
		}
		select {
		case <-next.done:
		case <-deadline:
			return false
		}
	}
}
