package media

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/pion/logging"
)

// pionLoggerFactory routes pion's logs into log/slog, so WebRTC diagnostics
// land in the process log with everything else instead of on stderr.
//
// Levels are shifted down one step. Pion's Info narrates every state change
// of every peer connection, and its Warn fires in the normal course of a
// call (media arriving a moment before DTLS completes, streams closing at
// hang-up); what matters about a peer (it failed, it closed) reaches the
// call's owner through WebRTCPeer.Done and is logged there. So Info and
// Warn are logged at Debug, and Error at Warn.
type pionLoggerFactory struct{}

// NewLogger returns the logger for one pion component ("ice", "dtls", ...).
func (pionLoggerFactory) NewLogger(scope string) logging.LeveledLogger {
	return pionLogger{l: slog.Default().With("pion", scope)}
}

// pionLogger adapts slog to pion's LeveledLogger.
type pionLogger struct{ l *slog.Logger }

func (p pionLogger) log(level slog.Level, msg string) {
	p.l.Log(context.Background(), level, "media: webrtc: "+msg)
}

func (p pionLogger) logf(level slog.Level, format string, args ...any) {
	// Format only when the line will be written: pion logs per packet at
	// Trace level.
	if p.l.Enabled(context.Background(), level) {
		p.log(level, fmt.Sprintf(format, args...))
	}
}

// Trace is pion's per-packet level: never logged.
func (pionLogger) Trace(string) {}

// Tracef is pion's per-packet level: never logged.
func (pionLogger) Tracef(string, ...any) {}

// Debug logs at Debug.
func (p pionLogger) Debug(msg string) { p.log(slog.LevelDebug, msg) }

// Debugf logs at Debug.
func (p pionLogger) Debugf(format string, args ...any) { p.logf(slog.LevelDebug, format, args...) }

// Info logs at Debug (see pionLoggerFactory).
func (p pionLogger) Info(msg string) { p.log(slog.LevelDebug, msg) }

// Infof logs at Debug (see pionLoggerFactory).
func (p pionLogger) Infof(format string, args ...any) { p.logf(slog.LevelDebug, format, args...) }

// Warn logs at Debug (see pionLoggerFactory).
func (p pionLogger) Warn(msg string) { p.log(slog.LevelDebug, msg) }

// Warnf logs at Debug (see pionLoggerFactory).
func (p pionLogger) Warnf(format string, args ...any) { p.logf(slog.LevelDebug, format, args...) }

// Error logs at Warn (see pionLoggerFactory).
func (p pionLogger) Error(msg string) { p.log(slog.LevelWarn, msg) }

// Errorf logs at Warn (see pionLoggerFactory).
func (p pionLogger) Errorf(format string, args ...any) { p.logf(slog.LevelWarn, format, args...) }
