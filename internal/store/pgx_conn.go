package store

import (
	"context"
	"database/sql/driver"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// Postgres queries without arguments run in one round trip.
//
// bun writes a query's values into its text, so its queries reach pgx
// without arguments and with a new text nearly every time. pgx's default
// mode, the statement cache, prepares each new text before running it: a
// second round trip, and a statement kept on the server until 512 newer
// ones push it out and it is deallocated. pgx already runs an Exec
// without arguments with the simple protocol, in one round trip; pgxConn
// does the same for queries. Queries with arguments (River's, whatsmeow's,
// bun's NewRaw with bun.In) keep the statement cache, where preparing
// once pays off. The simple protocol returns text rather than binary
// values, which pgx decodes into the same Go values.

// pgxConnector opens pgx's database/sql connections as pgxConns.
type pgxConnector struct{ inner driver.Connector }

func (c pgxConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.inner.Connect(ctx)
	if err != nil {
		return nil, err
	}
	sc, ok := conn.(*stdlib.Conn)
	if !ok {
		_ = conn.Close()
		return nil, fmt.Errorf("store: pgx's database/sql driver returned a %T, not a *stdlib.Conn", conn)
	}
	return &pgxConn{Conn: sc}, nil
}

func (c pgxConnector) Driver() driver.Driver { return c.inner.Driver() }

// pgxConn is pgx's database/sql connection (all its methods), running
// queries without arguments with the simple protocol.
type pgxConn struct{ *stdlib.Conn }

// simpleProtocol is the option pgx reads from a query's first argument.
var simpleProtocol = []driver.NamedValue{{Ordinal: 1, Value: pgx.QueryExecModeSimpleProtocol}}

func (c *pgxConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	if len(args) == 0 {
		args = simpleProtocol
	}
	return c.Conn.QueryContext(ctx, query, args)
}

// PgxConn returns the pgx connection under a Postgres driver connection,
// as sql.Conn.Raw passes it, for what database/sql cannot do (COPY).
func PgxConn(driverConn any) (*pgx.Conn, error) {
	switch c := driverConn.(type) {
	case *pgxConn:
		return c.Conn.Conn(), nil
	case *stdlib.Conn:
		return c.Conn(), nil
	}
	return nil, fmt.Errorf("store: %T is not a Postgres connection", driverConn)
}
