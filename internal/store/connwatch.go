package store

import (
	"context"
	"errors"
	"net"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// suspectWindow is how long after a lost Postgres connection every pooled
// connection is pinged before it is used.
const suspectWindow = 30 * time.Second

// connWatch notices when a Postgres connection is lost (a dial fails, or a
// read or write on an open connection does). pgx pings a pooled connection
// before use only when it has been idle for a second; with River working,
// connections rarely idle that long, so after a database restart or a
// network cut the next query could take a dead connection and fail with
// "unexpected EOF". For a while after a loss, every connection is pinged
// before use instead, and a dead one is replaced.
type connWatch struct{ lastLoss atomic.Int64 }

func (w *connWatch) lost() { w.lastLoss.Store(time.Now().UnixNano()) }

func (w *connWatch) suspect() bool {
	last := w.lastLoss.Load()
	return last != 0 && time.Since(time.Unix(0, last)) < suspectWindow
}

// watch wraps cfg's dialer so losses are noticed, and returns the option
// that makes the pool ping while they are recent.
func (w *connWatch) watch(cfg *pgx.ConnConfig) stdlib.OptionOpenDB {
	dial := cfg.DialFunc
	cfg.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			w.lost()
			return nil, err
		}
		return &watchedConn{Conn: c, w: w}, nil
	}
	return stdlib.OptionShouldPing(func(_ context.Context, p stdlib.ShouldPingParams) bool {
		return p.IdleDuration > time.Second || w.suspect()
	})
}

type watchedConn struct {
	net.Conn
	w *connWatch
}

func (c *watchedConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.check(err)
	return n, err
}

func (c *watchedConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	c.check(err)
	return n, err
}

// check records a loss for errors other than deadlines (pgx sets them to
// cancel) and use after pgx closed the connection itself.
func (c *watchedConn) check(err error) {
	var ne net.Error
	if err == nil || errors.Is(err, net.ErrClosed) || (errors.As(err, &ne) && ne.Timeout()) {
		return
	}
	c.w.lost()
}
