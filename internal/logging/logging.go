// Package logging builds the zap logger and carries a request-scoped logger (with the request
// id) through contexts, so every line a request causes, in any layer, names its request.
package logging

import (
	"context"
	"fmt"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// New builds a logger; format is "json" or "console".
func New(level, format string) (*zap.Logger, error) {
	cfg, err := Config(level, format)
	if err != nil {
		return nil, err
	}
	return cfg.Build()
}

// Config is the logger New builds, to stderr.
func Config(level, format string) (zap.Config, error) {
	lvl, err := zapcore.ParseLevel(level)
	if err != nil {
		return zap.Config{}, err
	}
	cfg := zap.NewProductionConfig()
	if format == "console" {
		cfg = zap.NewDevelopmentConfig()
	}
	cfg.Level = zap.NewAtomicLevelAt(lvl)
	cfg.DisableStacktrace = true
	cfg.EncoderConfig.EncodeTime = zapcore.ISO8601TimeEncoder // "2026-11-22T03:40:15.123Z", not epoch seconds
	return cfg, nil
}

type ctxKey struct{}

// WithLogger returns ctx carrying l.
func WithLogger(ctx context.Context, l *zap.Logger) context.Context {
	return context.WithValue(ctx, ctxKey{}, l)
}

// From returns the logger ctx carries, or fallback.
func From(ctx context.Context, fallback *zap.Logger) *zap.Logger {
	if l, ok := ctx.Value(ctxKey{}).(*zap.Logger); ok {
		return l
	}
	return fallback
}

// Printf is how a library that logs through a Printf-style interface (go-redis) writes into
// zap: one warning per line, under the library's name, with the request's id when its
// context carries one.
type Printf struct {
	Log  *zap.Logger
	Name string
}

func (p Printf) Printf(ctx context.Context, format string, v ...any) {
	From(ctx, p.Log).Named(p.Name).Warn(fmt.Sprintf(format, v...))
}
