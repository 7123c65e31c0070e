package wasim

import (
	waBinary "go.mau.fi/whatsmeow/binary"
)

type linkCodeSession struct{}
type group struct{}
type SentMessage struct{}
type signalStore struct{}

func newSignalStore(p *Phone) *signalStore                                   { return &signalStore{} }
func (c *conn) handleMessage(node *waBinary.Node)                            {}
func (c *conn) handleGroupIQ(node *waBinary.Node) error                      { return c.result(node) }
func (c *conn) handleUsync(node *waBinary.Node) error                        { return c.result(node) }
func (c *conn) handleLinkCodeIQ(node, reg *waBinary.Node) error              { return c.result(node) }
func (s *Simulator) preKeyBundles(users []waBinary.Node) []waBinary.Node     { return nil }
