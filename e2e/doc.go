// Package e2e holds tests that run wagraph as operators do: the real binary,
// built by the test, in several processes sharing one Postgres database and
// one Redis. It has no code of its own.
package e2e
