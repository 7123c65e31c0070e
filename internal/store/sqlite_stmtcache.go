package store

import (
	"container/list"
	"context"
	"database/sql/driver"
	"errors"
	"reflect"

	"modernc.org/sqlite"
)

// stmtCacheSize is how many prepared statements each SQLite connection
// keeps. River's and whatsmeow's queries are a few dozen texts in all.
const stmtCacheSize = 128

// modernc.org/sqlite parses (prepares) every query it runs and throws the
// statement away: no statement cache. Parsing costs more than running most
// of wagraph's queries; it was a fifth of the CPU of a send through the
// queue (bench/messages), mostly River's long job queries and whatsmeow's
// store queries. Those are fixed texts with arguments, so each connection
// keeps their prepared statements and reuses them (reset between uses).
// A query without arguments is run as before: bun writes its values into
// the text, so its queries are all different and caching them would only
// churn the cache.

// sqliteConnector opens modernc.org/sqlite connections that cache their
// prepared statements.
type sqliteConnector struct {
	inner driver.Connector
	size  int
}

func newSQLiteConnector(dsn string) (driver.Connector, error) {
	c, err := sqlite.NewConnector(dsn)
	if err != nil {
		return nil, err
	}
	return &sqliteConnector{inner: c, size: stmtCacheSize}, nil
}

func (c *sqliteConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.inner.Connect(ctx)
	if err != nil {
		return nil, err
	}
	inner, ok := conn.(sqliteDriverConn)
	if !ok {
		_ = conn.Close()
		return nil, errors.New("store: the SQLite driver's connection lacks a method the statement cache needs")
	}
	return &cachingConn{sqliteDriverConn: inner, size: c.size, byQuery: map[string]*list.Element{}, lru: list.New()}, nil
}

func (c *sqliteConnector) Driver() driver.Driver { return c.inner.Driver() }

// sqliteDriverConn is what modernc.org/sqlite's connection implements and
// database/sql uses; cachingConn passes all of it on.
type sqliteDriverConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.ExecerContext
	driver.QueryerContext
	driver.Pinger
	driver.SessionResetter
	driver.Validator
}

// cachingConn is one SQLite connection with its statement cache. Like any
// driver connection, database/sql uses it from one goroutine at a time,
// so the cache needs no lock.
type cachingConn struct {
	sqliteDriverConn
	size    int
	byQuery map[string]*list.Element // of *cachedStmt
	lru     *list.List               // front: used last
	// prepares counts the statements prepared for the cache (tests).
	prepares int
}

// cachedStmt is a prepared statement; busy while rows read from it are
// open (a second query of the same text meanwhile gets its own statement).
type cachedStmt struct {
	query  string
	stmt   driver.Stmt
	busy   bool
	closed bool // evicted or closed while busy: close when the rows are
}

// stmt returns the cached statement for query, preparing it when needed;
// nil (and no error) when the cached one is in use.
func (c *cachingConn) stmt(ctx context.Context, query string) (*cachedStmt, error) {
	if el, ok := c.byQuery[query]; ok {
		cs := el.Value.(*cachedStmt)
		if cs.busy {
			return nil, nil
		}
		c.lru.MoveToFront(el)
		return cs, nil
	}
	st, err := c.sqliteDriverConn.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	c.prepares++
	cs := &cachedStmt{query: query, stmt: st}
	c.byQuery[query] = c.lru.PushFront(cs)
	for c.lru.Len() > c.size {
		old := c.lru.Back()
		c.evict(old)
	}
	return cs, nil
}

func (c *cachingConn) evict(el *list.Element) {
	cs := el.Value.(*cachedStmt)
	c.lru.Remove(el)
	delete(c.byQuery, cs.query)
	cs.closed = true
	if !cs.busy {
		_ = cs.stmt.Close()
	}
}

// ExecContext runs a query with arguments on its cached statement.
func (c *cachingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	if len(args) == 0 {
		return c.sqliteDriverConn.ExecContext(ctx, query, args)
	}
	cs, err := c.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	if cs == nil {
		return c.sqliteDriverConn.ExecContext(ctx, query, args)
	}
	return cs.stmt.(driver.StmtExecContext).ExecContext(ctx, args)
}

// QueryContext runs a query with arguments on its cached statement, which
// stays busy until the rows are closed.
func (c *cachingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	if len(args) == 0 {
		return c.sqliteDriverConn.QueryContext(ctx, query, args)
	}
	cs, err := c.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	if cs == nil {
		return c.sqliteDriverConn.QueryContext(ctx, query, args)
	}
	rows, err := cs.stmt.(driver.StmtQueryContext).QueryContext(ctx, args)
	if err != nil {
		return nil, err
	}
	cs.busy = true
	if _, ok := rows.(sqliteRows); !ok {
		_ = rows.Close()
		cs.busy = false
		return nil, errors.New("store: the SQLite driver's rows lack a method the statement cache needs")
	}
	return &cachedRows{Rows: rows, cs: cs}, nil
}

// Close closes the cached statements, then the connection.
func (c *cachingConn) Close() error {
	for c.lru.Len() > 0 {
		c.evict(c.lru.Back())
	}
	return c.sqliteDriverConn.Close()
}

// cachedRows frees its statement for the next query when closed.
type cachedRows struct {
	driver.Rows
	cs *cachedStmt
}

func (r *cachedRows) Close() error {
	err := r.Rows.Close() // resets the statement
	r.cs.busy = false
	if r.cs.closed {
		if cerr := r.cs.stmt.Close(); err == nil {
			err = cerr
		}
	}
	return err
}

// The optional row interfaces of modernc.org/sqlite's rows, passed on so
// column types read as before.

type sqliteRows interface {
	driver.Rows
	driver.RowsColumnTypeDatabaseTypeName
	driver.RowsColumnTypeLength
	driver.RowsColumnTypeNullable
	driver.RowsColumnTypePrecisionScale
	driver.RowsColumnTypeScanType
}

func (r *cachedRows) inner() sqliteRows { return r.Rows.(sqliteRows) }

func (r *cachedRows) ColumnTypeDatabaseTypeName(i int) string {
	return r.inner().ColumnTypeDatabaseTypeName(i)
}

func (r *cachedRows) ColumnTypeLength(i int) (int64, bool) { return r.inner().ColumnTypeLength(i) }

func (r *cachedRows) ColumnTypeNullable(i int) (bool, bool) { return r.inner().ColumnTypeNullable(i) }

func (r *cachedRows) ColumnTypePrecisionScale(i int) (int64, int64, bool) {
	return r.inner().ColumnTypePrecisionScale(i)
}

func (r *cachedRows) ColumnTypeScanType(i int) reflect.Type { return r.inner().ColumnTypeScanType(i) }
