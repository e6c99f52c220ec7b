package gcpolicy

import (
	"runtime/debug"
	"testing"

	"github.com/KimMachineGun/automemlimit/memlimit"
)

// These tests change process-wide runtime settings, so none of them runs in parallel, and each
// puts back what it found.
func keepRuntime(t *testing.T) {
	t.Helper()
	percent, limit := debug.SetGCPercent(-1), debug.SetMemoryLimit(-1)
	debug.SetGCPercent(percent)
	t.Cleanup(func() { debug.SetGCPercent(percent); debug.SetMemoryLimit(limit) })
}

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestDefaultPercentWhenGOGCIsUnset(t *testing.T) {
	keepRuntime(t)
	debug.SetGCPercent(100)
	p := Apply(env(nil))
	if got := debug.SetGCPercent(-1); got != DefaultPercent {
		t.Errorf("GC percent in force = %d, want %d", got, DefaultPercent)
	}
	if p.Percent != DefaultPercent || p.PercentFrom != "default" {
		t.Errorf("policy = %+v", p)
	}
}

func TestOperatorSettingsWin(t *testing.T) {
	keepRuntime(t)
	debug.SetGCPercent(150) // as the runtime would have parsed GOGC=150
	debug.SetMemoryLimit(64 << 20)
	p := Apply(env(map[string]string{"GOGC": "150", "GOMEMLIMIT": "64MiB"}))
	if got := debug.SetGCPercent(-1); got != 150 {
		t.Errorf("GC percent in force = %d, want the operator's 150", got)
	}
	if got := debug.SetMemoryLimit(-1); got != 64<<20 {
		t.Errorf("memory limit = %d, want the operator's", got)
	}
	if p != (Policy{Percent: 150, PercentFrom: "GOGC", MemoryLimit: 64 << 20, LimitFrom: "GOMEMLIMIT"}) {
		t.Errorf("policy = %+v", p)
	}
}

// In a container with a memory limit, the collector's limit is 90 % of it; without one (or
// outside a container) there is none, as with Go's default.
func TestMemoryLimitFollowsTheContainer(t *testing.T) {
	keepRuntime(t)
	defer func(f memlimit.Provider) { containerLimit = f }(containerLimit)

	containerLimit = memlimit.Limit(256 << 20)
	p := Apply(env(nil))
	want := int64(256<<20) * 9 / 10
	if got := debug.SetMemoryLimit(-1); got < want-1 || got > want+1 {
		t.Errorf("memory limit in force = %d, want 90%% of 256 MiB (%d)", got, want)
	}
	if p.LimitFrom != "cgroup" || p.MemoryLimit != debug.SetMemoryLimit(-1) {
		t.Errorf("policy = %+v", p)
	}

	debug.SetMemoryLimit(1 << 62)
	containerLimit = func() (uint64, error) { return 0, memlimit.ErrNoCgroup }
	if p := Apply(env(nil)); p.LimitFrom != "none" || p.MemoryLimit != 0 {
		t.Errorf("outside a container: policy = %+v", p)
	}
}
