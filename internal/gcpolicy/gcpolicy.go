// Package gcpolicy sets how often the garbage collector runs, trading memory the service has
// to spare for CPU it does not.
//
// Go's default (GOGC=100) lets the heap grow to twice what is live before collecting. This
// service keeps little live (a few MB: pools, caches, the contract) and allocates per request,
// so at that default it collects hundreds of times a second under load and the collector is
// 10–15 % of a read's CPU (docs/performance.md). At DefaultPercent it collects a quarter as
// often; the price is a larger peak heap (RSS under full load on the perf scripts: ~70 MB at
// 100, ~90 MB at 200, ~130 MB at 400).
//
// The memory limit makes that safe in a container: from the cgroup's limit (90 % of it), the
// collector works harder as the heap nears it instead of the pod being killed. Both follow
// Go's own settings when the operator gives them: GOGC and GOMEMLIMIT win (GOMEMLIMIT=off: no
// limit).
package gcpolicy

import (
	"fmt"
	"math"
	"runtime/debug"

	"github.com/KimMachineGun/automemlimit/memlimit"
)

// DefaultPercent is GOGC when the environment does not set it.
const DefaultPercent = 400

// limitRatio leaves room under the container's limit for what the Go runtime does not count
// (thread stacks outside the heap, cgo, the page cache charged to the cgroup).
const limitRatio = 0.9

// containerLimit reads the container's memory limit (cgroup v1 or v2): the one piece of
// automemlimit used here; tests replace it.
var containerLimit = memlimit.FromCgroup

// Usage describes the two Go runtime variables as this service uses them, for -help.
var Usage = fmt.Sprintf(`Go runtime (read by Go itself; the defaults here differ from Go's):
  GOGC                       how far the heap grows between collections, in %% of what is live (default %d here; Go's is 100)
  GOMEMLIMIT                 soft memory limit, e.g. 200MiB, or off (default %.0f%% of the container's cgroup memory limit; none outside one)
`, DefaultPercent, limitRatio*100)

// Policy is what Apply left in force, for the start-up log.
type Policy struct {
	Percent     int    // GOGC in force
	PercentFrom string // "GOGC" or "default"
	MemoryLimit int64  // bytes; 0 when none
	LimitFrom   string // "GOMEMLIMIT", "cgroup" or "none"
}

// Apply sets the collector's pace and memory limit unless the environment already does.
// Without a readable cgroup limit (no container, no limit, an unreadable one) the process has
// no limit, as Go's default is; that is not an error.
func Apply(getenv func(string) string) Policy {
	p := Policy{Percent: DefaultPercent, PercentFrom: "default", LimitFrom: "none"}
	if v := getenv("GOGC"); v != "" {
		p.PercentFrom = "GOGC"
		p.Percent = debug.SetGCPercent(-1) // read what the runtime parsed, then put it back
		debug.SetGCPercent(p.Percent)
	} else {
		debug.SetGCPercent(DefaultPercent)
	}
	if getenv("GOMEMLIMIT") != "" { // the runtime has parsed it ("off" included)
		p.LimitFrom, p.MemoryLimit = "GOMEMLIMIT", debug.SetMemoryLimit(-1)
		return p
	}
	if limit, err := containerLimit(); err == nil && limit > 0 && limit < math.MaxInt64 {
		p.LimitFrom, p.MemoryLimit = "cgroup", int64(float64(limit)*limitRatio)
		debug.SetMemoryLimit(p.MemoryLimit)
	}
	return p
}
