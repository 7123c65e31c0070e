package apptest

import (
	"bufio"
	"io"
	"net"
	"testing"
)

// echoServer answers each line with the same line.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, _ = io.Copy(c, c)
			}()
		}
	}()
	return ln.Addr().String()
}

func roundTrip(t *testing.T, c net.Conn, msg string) error {
	t.Helper()
	if _, err := io.WriteString(c, msg+"\n"); err != nil {
		return err
	}
	got, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if got != msg+"\n" {
		t.Fatalf("echo %q, want %q", got, msg)
	}
	return nil
}

func TestProxyCutAndRestore(t *testing.T) {
	p := NewProxy(t, echoServer(t))
	before, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer before.Close()
	if err := roundTrip(t, before, "hello"); err != nil {
		t.Fatal(err)
	}

	p.Cut()
	if err := roundTrip(t, before, "still there?"); err == nil {
		t.Error("a connection made before the cut still works")
	}
	if c, err := net.Dial("tcp", p.Addr()); err == nil {
		c.Close()
		t.Error("new connections are accepted while cut")
	}
	p.Cut() // cutting twice is harmless

	p.Restore(t)
	after, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatalf("dial after restore: %v", err)
	}
	defer after.Close()
	if err := roundTrip(t, after, "back"); err != nil {
		t.Fatalf("after restore: %v", err)
	}
}

func TestProxyToNothing(t *testing.T) {
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	target := dead.Addr().String()
	dead.Close()
	p := NewProxy(t, target)
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Errorf("read through a proxy to a stopped server: %v, want the connection closed", err)
	}
}

func TestRewrite(t *testing.T) {
	p := NewProxy(t, "127.0.0.1:5432")
	got := p.Rewrite(t, "postgres://u:pw@127.0.0.1:5432/db?sslmode=disable")
	if want := "postgres://u:pw@" + p.Addr() + "/db?sslmode=disable"; got != want {
		t.Errorf("Rewrite = %q, want %q", got, want)
	}
}
