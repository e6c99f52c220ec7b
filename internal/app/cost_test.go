package app_test

import (
	"encoding/base64"
	"fmt"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gopay-miniapp/bff/internal/api"
)

// The default body limit (HTTP_MAX_BODY_BYTES), which every worst case below fills.
const bodyLimit = 65536

// worstBodies are the most expensive bodies we know how to build under the limit, each aimed at
// one parser's weak spot: depth (the validator's error text was quadratic in it), width at the
// largest accepted depth, many members, escapes, many values, and a repeated member at the end.
func worstBodies(field string) map[string]string {
	fill := func(prefix, unit, suffix string) string {
		n := (bodyLimit - len(prefix) - len(suffix) - 64) / len(unit)
		return prefix + strings.Repeat(unit, n) + suffix
	}
	deepest := strings.Repeat("[", 30) + strings.Repeat("]", 30) // with the object and the array: 32, the limit
	members := func() string {
		var b strings.Builder
		b.WriteString(`{"` + field + `":"x"`)
		for i := 0; b.Len() < bodyLimit-200; i++ {
			fmt.Fprintf(&b, `,"m%d":0`, i)
		}
		return b.String() + "}"
	}()
	return map[string]string{
		"deep-9000":      `{"` + field + `":` + strings.Repeat("[", 9000) + strings.Repeat("]", 9000) + `}`,
		"deep-to-limit":  fill(`{"`+field+`":`, "[", "") + "]}",
		"wide-at-32":     fill(`{"`+field+`":[`, deepest+",", deepest+"]}"),
		"members":        members,
		"escapes":        fill(`{"`+field+`":"`, `\u00e9`, `"}`),
		"many-values":    fill(`{"`+field+`":[`, "1e308,", "0]}"),
		"empty-objects":  fill(`{"`+field+`":[`, "{},", "{}]}"),
		"duplicate-last": fill(`{"`+field+`":"x","pad":"`, "a", `","`+field+`":"y"}`),
	}
}

// Issue 7 §4: what the worst body under the size limit costs, on every route that takes JSON.
// Not parallel: it reads the process's allocation counter, which other tests would inflate.
func TestWorstBodyCostIsBounded(t *testing.T) {
	e := newEnv(t)
	in := start(t, e)
	auth := in.login(in.app.SandboxURL(), "cost")
	spec, err := api.GetSpec()
	if err != nil {
		t.Fatal(err)
	}
	// Generous bounds for a 64 KiB body under the race detector on a shared machine: the point
	// is the order of magnitude (megabytes, milliseconds), not gigabytes and seconds.
	const maxBytes, maxTime = 8 << 20, 2 * time.Second

	type row struct {
		route, body string
		status      int
		bytes       uint64
		took        time.Duration
	}
	var rows []row
	for path, item := range spec.Paths.Map() {
		for method, op := range item.Operations() {
			if op.RequestBody == nil || op.RequestBody.Value.Content.Get("application/json") == nil {
				continue
			}
			field := "x"
			if props := op.RequestBody.Value.Content.Get("application/json").Schema.Value.Properties; len(props) > 0 {
				names := make([]string, 0, len(props))
				for n := range props {
					names = append(names, n)
				}
				sort.Strings(names)
				field = names[0]
			}
			headers := []string{"Authorization", auth}
			if path == "/internal/v1/access-token" {
				headers = []string{"Authorization", basic("payments", internalSecret)}
			}
			for name, body := range worstBodies(field) {
				if len(body) > bodyLimit {
					t.Fatalf("%s is %d bytes, over the limit", name, len(body))
				}
				runtime.GC()
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				started := time.Now()
				r := in.plain(method, path, body, headers...)
				took := time.Since(started)
				runtime.ReadMemStats(&after)
				rows = append(rows, row{method + " " + path, name, r.status, after.TotalAlloc - before.TotalAlloc, took})
			}
		}
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].bytes > rows[j].bytes })
	var worst strings.Builder
	for _, r := range rows {
		fmt.Fprintf(&worst, "%-40s %-15s %d %7.0f KiB %8s\n", r.route, r.body, r.status, float64(r.bytes)/1024, r.took.Round(time.Microsecond))
		if r.status >= 500 {
			t.Errorf("%s with %s answered %d", r.route, r.body, r.status)
		}
		if r.bytes > maxBytes || r.took > maxTime {
			t.Errorf("%s with %s cost %d bytes in %s (bounds %d bytes, %s)", r.route, r.body, r.bytes, r.took, maxBytes, maxTime)
		}
	}
	t.Logf("cost per request, most allocating first:\n%s", worst.String())
}

func basic(id, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(id+":"+secret))
}
