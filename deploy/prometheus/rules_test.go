// Package promrules holds the Prometheus alert rules (alerts.yml) and checks them, and the
// Grafana dashboard (../grafana/bff.json), against the metrics the service exports.
package promrules

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/redis/go-redis/v9"

	"github.com/gopay-miniapp/bff/internal/metrics"
)

// external are metrics from elsewhere that the rules may use.
var external = map[string]bool{"kube_pod_status_ready": true} // kube-state-metrics

// exported lists every metric name the service's registry can export: what it gathers now
// (runtime, process, build, pool collectors) and every Desc of its own collectors, which a
// vector only gathers once it has a child.
func exported(t *testing.T) map[string]bool {
	t.Helper()
	m := metrics.New()
	pool, err := pgxpool.New(context.Background(), "postgres://nobody@127.0.0.1:1/none") // lazy: never connects
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer func() { _ = rdb.Close() }()
	m.RegisterPools(pool, rdb)
	names := map[string]bool{}
	families, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		names[f.GetName()] = true
	}
	fq := regexp.MustCompile(`fqName: "([^"]+)"`)
	v := reflect.ValueOf(m).Elem()
	for i := range v.NumField() {
		c, ok := v.Field(i).Interface().(prometheus.Collector)
		if !ok {
			continue
		}
		ch := make(chan *prometheus.Desc, 16)
		go func() { c.Describe(ch); close(ch) }()
		for d := range ch {
			if n := fq.FindStringSubmatch(d.String()); n != nil {
				names[n[1]] = true
			}
		}
	}
	return names
}

// check parses expr and reports every metric it names that nothing exports.
func check(t *testing.T, where, expr string, names map[string]bool) {
	t.Helper()
	e, err := parser.NewParser(parser.Options{}).ParseExpr(expr)
	if err != nil {
		t.Errorf("%s: %v", where, err)
		return
	}
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		vs, ok := n.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		name := vs.Name
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if base, found := strings.CutSuffix(name, suffix); found && names[base] {
				name = base
			}
		}
		if !names[name] && !external[name] {
			t.Errorf("%s: metric %s is not exported by the service", where, vs.Name)
		}
		return nil
	})
}

func TestAlertRules(t *testing.T) {
	groups, errs := rulefmt.ParseFile("alerts.yml", false, model.UTF8Validation, parser.NewParser(parser.Options{}), slog.New(slog.DiscardHandler))
	if len(errs) > 0 {
		t.Fatalf("alerts.yml: %v", errs)
	}
	runbook, err := os.ReadFile("../../docs/runbook.md")
	if err != nil {
		t.Fatal(err)
	}
	names := exported(t)
	n := 0
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			n++
			check(t, r.Alert, r.Expr, names)
			url := r.Annotations["runbook_url"]
			anchor := url[strings.LastIndex(url, "#")+1:]
			if !strings.HasPrefix(url, "https://") || anchor != strings.ToLower(r.Alert) || !strings.Contains(string(runbook), "\n## "+r.Alert+"\n") {
				t.Errorf("%s: runbook_url %q must point at its own section of docs/runbook.md", r.Alert, url)
			}
		}
	}
	if n < 9 {
		t.Fatalf("%d rules; want the golden signals and the service's failure modes", n)
	}
}

func TestDashboard(t *testing.T) {
	raw, err := os.ReadFile("../grafana/bff.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Title  string `json:"title"`
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatal(err)
	}
	names := exported(t)
	exprs := 0
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			exprs++
			check(t, p.Title, tg.Expr, names)
		}
	}
	if d.Title == "" || exprs < 10 {
		t.Fatalf("dashboard %q with %d queries", d.Title, exprs)
	}
}
