package simserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"wagraph/internal/wasim"
)

// Options configure a simulator process.
type Options struct {
	// Listen is the control API's address; empty means 127.0.0.1:7900.
	Listen string
	// WebsocketListen is the WhatsApp websocket's address; empty means
	// 127.0.0.1 on a free port (GET /v1/info says which).
	WebsocketListen string
	// FirstNumber is the first phone number handed out (digits); empty
	// lets the simulator choose.
	FirstNumber string
	// RootKey signs the Noise certificates; nil generates one.
	RootKey *[32]byte
	// StateFile, if set, is where the simulator keeps its state (keys,
	// phones, devices, groups) across restarts: read at start when it
	// exists, written every few seconds and at Close. Its websocket
	// address is reused unless WebsocketListen is set.
	StateFile string
	Logger    zerolog.Logger
}

// DefaultListen is where `wagraph simulator` serves its control API.
const DefaultListen = "127.0.0.1:7900"

// Server is a running simulator with its control API.
type Server struct {
	// Sim is the simulator, for callers in the same process.
	Sim *wasim.Simulator
	ln  net.Listener
	srv *http.Server
	log zerolog.Logger
	err chan error

	state     *stateWriter // nil without a state file
	stop      chan struct{}
	saved     chan struct{} // closed when the save loop has ended
	closeOnce sync.Once
}

// Start starts the simulator and serves its control API until Close (or
// until ctx ends).
func Start(ctx context.Context, opts Options) (*Server, error) {
	if opts.Listen == "" {
		opts.Listen = DefaultListen
	}
	var state *wasim.State
	if opts.StateFile != "" {
		var err error
		if state, err = loadState(opts.StateFile); err != nil {
			return nil, err
		}
		if state != nil && opts.WebsocketListen == "" {
			opts.WebsocketListen = state.WebsocketAddr // where the clients reconnect
		}
	}
	sim, err := wasim.Start(context.WithoutCancel(ctx), wasim.Options{
		Logger: opts.Logger, Addr: opts.WebsocketListen, FirstNumber: opts.FirstNumber, RootKey: opts.RootKey, State: state,
	})
	if err != nil {
		return nil, err
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", opts.Listen)
	if err != nil {
		sim.Close()
		return nil, fmt.Errorf("listen on %s: %w (is another simulator running? use --listen)", opts.Listen, err)
	}
	s := &Server{Sim: sim, ln: ln, log: opts.Logger, err: make(chan error, 1), stop: make(chan struct{}), saved: make(chan struct{})}
	if opts.StateFile != "" {
		s.state = &stateWriter{path: opts.StateFile, sim: sim}
		if err := s.state.save(); err != nil { // fail now, not at the first change
			sim.Close()
			_ = ln.Close()
			return nil, err
		}
		go s.saveLoop()
	} else {
		close(s.saved)
	}
	s.srv = &http.Server{
		Handler:           Handler(sim, opts.Logger),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		// A scan waits up to maxLinkWait for the client's answers.
		WriteTimeout: maxLinkWait + 10*time.Second,
	}
	go func() {
		err := s.srv.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		s.err <- err
	}()
	context.AfterFunc(ctx, s.Close)
	return s, nil
}

// URL is the control API's base URL, the value for SIMULATE.
func (s *Server) URL() string { return "http://" + s.ln.Addr().String() }

// Done delivers the control server's end: nil after Close.
func (s *Server) Done() <-chan error { return s.err }

// Close stops the control API and the simulator, cutting every client's
// connection. It is safe to call more than once.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.srv.Shutdown(ctx)
		s.Sim.Close()
		close(s.stop)
		<-s.saved
	})
}

// saveLoop writes the state file every saveEvery, and a last time when the
// server closes.
func (s *Server) saveLoop() {
	defer close(s.saved)
	t := time.NewTicker(saveEvery)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-s.stop:
			if err := s.state.save(); err != nil {
				s.log.Error().Err(err).Msg("the simulator's state was not saved")
			}
			return
		}
		if err := s.state.save(); err != nil {
			s.log.Error().Err(err).Msg("the simulator's state was not saved; retrying")
		}
	}
}
