package logging

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"go.uber.org/zap"
)

// Lines carry ISO 8601 timestamps, and what a library logs through Printf lands as a warning
// under its name with the request's id.
func TestLinesAreISO8601AndLibrariesLogThroughZap(t *testing.T) {
	cfg, err := Config("info", "json")
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "log")
	cfg.OutputPaths = []string{out}
	log, err := cfg.Build()
	if err != nil {
		t.Fatal(err)
	}
	ctx := WithLogger(context.Background(), log.With(zap.String("request_id", "r-1")))
	Printf{Log: log, Name: "go-redis"}.Printf(ctx, "redis: %s", "dial tcp 127.0.0.1:1: connect: connection refused")
	_ = log.Sync()
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	line := string(b)
	if !regexp.MustCompile(`"ts":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"`).MatchString(line) {
		t.Errorf("timestamp not ISO 8601: %s", line)
	}
	for _, want := range []string{`"level":"warn"`, `"logger":"go-redis"`, `"request_id":"r-1"`, `connection refused`} {
		if !regexp.MustCompile(regexp.QuoteMeta(want)).MatchString(line) {
			t.Errorf("line lacks %s: %s", want, line)
		}
	}
}
