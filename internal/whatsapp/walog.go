package whatsapp

import (
	"runtime/debug"

	"github.com/rs/zerolog"
	waLog "go.mau.fi/whatsmeow/util/log"
)

// waLogger adapts zerolog to whatsmeow's printf-style logger interface, so
// whatsmeow's lines carry the same fields (account id, module) as ours.
type waLogger struct {
	log    zerolog.Logger
	module string
}

// NewWALogger returns a whatsmeow logger writing to log.
func NewWALogger(log zerolog.Logger) waLog.Logger { return waLogger{log: log} }

func (w waLogger) Errorf(msg string, args ...any) { w.event(w.log.Error()).Msgf(msg, args...) }
func (w waLogger) Warnf(msg string, args ...any)  { w.event(w.log.Warn()).Msgf(msg, args...) }
func (w waLogger) Infof(msg string, args ...any)  { w.event(w.log.Info()).Msgf(msg, args...) }
func (w waLogger) Debugf(msg string, args ...any) { w.event(w.log.Debug()).Msgf(msg, args...) }

func (w waLogger) event(e *zerolog.Event) *zerolog.Event {
	if w.module != "" {
		e = e.Str("module", w.module)
	}
	return e
}

// Sub names a whatsmeow module (Client/Socket/...), nested with slashes.
func (w waLogger) Sub(module string) waLog.Logger {
	if w.module != "" {
		module = w.module + "/" + module
	}
	return waLogger{log: w.log, module: module}
}

// WhatsmeowVersion is the version of whatsmeow built into this binary, for
// reports; "(unknown version)" when the build has no module information.
func WhatsmeowVersion() string {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, m := range info.Deps {
			if m.Path == "go.mau.fi/whatsmeow" {
				return m.Version
			}
		}
	}
	return "(unknown version)"
}
