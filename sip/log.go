package sip

import (
	"context"
	"log/slog"

	"switchboard/metrics"
)

// sipgoHandler adapts sipgo's internal logging: sipgo reports hostile input
// (unparsable datagrams, with their bytes) at error level, which would let any
// scanner flood our logs. Those become a counter plus a debug line; the rest
// of sipgo's chatter is lowered one level.
type sipgoHandler struct{ next slog.Handler }

func quietLogger(l *slog.Logger) *slog.Logger {
	return slog.New(sipgoHandler{next: l.Handler()}).With("lib", "sipgo")
}

func (h sipgoHandler) Enabled(ctx context.Context, lvl slog.Level) bool {
	// Errors must reach Handle even when lowered, so the malformed counter works.
	return lvl >= slog.LevelError || h.next.Enabled(ctx, lower(lvl))
}

func (h sipgoHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == "failed to parse" {
		metrics.Rejected.WithLabelValues("malformed").Inc()
		var reason string
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "error" {
				reason = a.Value.String()
			}
			return true
		})
		nr := slog.NewRecord(r.Time, slog.LevelDebug, "dropped unparsable SIP message", r.PC)
		nr.AddAttrs(slog.String("error", reason))
		if !h.next.Enabled(ctx, slog.LevelDebug) {
			return nil
		}
		return h.next.Handle(ctx, nr)
	}
	lvl := lower(r.Level)
	if !h.next.Enabled(ctx, lvl) {
		return nil
	}
	nr := slog.NewRecord(r.Time, lvl, r.Message, r.PC)
	r.Attrs(func(a slog.Attr) bool { nr.AddAttrs(a); return true })
	return h.next.Handle(ctx, nr)
}

func (h sipgoHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return sipgoHandler{next: h.next.WithAttrs(as)}
}

func (h sipgoHandler) WithGroup(name string) slog.Handler {
	return sipgoHandler{next: h.next.WithGroup(name)}
}

func lower(l slog.Level) slog.Level {
	switch {
	case l >= slog.LevelError:
		return slog.LevelWarn
	case l >= slog.LevelWarn:
		return slog.LevelInfo
	default:
		return slog.LevelDebug
	}
}
