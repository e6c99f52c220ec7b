// Package k8s holds the Kubernetes manifests (Kustomize base and overlays); this test decodes
// every one strictly into the Kubernetes API types and checks what must agree with the service.
package k8s

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/yaml"

	"github.com/gopay-miniapp/bff/internal/api"
	"github.com/gopay-miniapp/bff/internal/config"
)

// kustomization is the part of Kustomize's file these manifests use (strict: anything else fails).
type kustomization struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Namespace  string   `json:"namespace,omitempty"`
	Resources  []string `json:"resources,omitempty"`
	Labels     []struct {
		Pairs            map[string]string `json:"pairs"`
		IncludeSelectors bool              `json:"includeSelectors"`
	} `json:"labels,omitempty"`
	Images []struct {
		Name   string `json:"name"`
		NewTag string `json:"newTag"`
	} `json:"images,omitempty"`
	Patches []struct {
		Path string `json:"path"`
	} `json:"patches,omitempty"`
}

// serviceMonitor is the Prometheus Operator resource, the fields used here (it is a CRD, not in k8s.io/api).
type serviceMonitor struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Spec struct {
		Selector struct {
			MatchLabels map[string]string `json:"matchLabels"`
		} `json:"selector"`
		Endpoints []struct {
			Port     string `json:"port"`
			Path     string `json:"path"`
			Interval string `json:"interval"`
		} `json:"endpoints"`
	} `json:"spec"`
}

// strict decodes YAML into v, failing on any field v does not have.
func strict(t *testing.T, path string, v any) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	js, err := yaml.YAMLToJSON(raw)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

type base struct {
	config     corev1.ConfigMap
	deployment appsv1.Deployment
	service    corev1.Service
	job        batchv1.Job
	monitor    serviceMonitor
}

func load(t *testing.T) base {
	t.Helper()
	var k kustomization
	strict(t, "base/kustomization.yaml", &k)
	files, _ := filepath.Glob("base/*.yaml")
	for _, f := range files {
		if name := filepath.Base(f); name != "kustomization.yaml" && !slices.Contains(k.Resources, name) {
			t.Errorf("%s is not listed in base/kustomization.yaml", f)
		}
	}
	var b base
	for _, r := range k.Resources {
		path := filepath.Join("base", r)
		var head struct{ Kind string }
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("kustomization lists %s: %v", r, err)
		}
		if err := yaml.Unmarshal(raw, &head); err != nil {
			t.Fatal(err)
		}
		switch head.Kind {
		case "ConfigMap":
			strict(t, path, &b.config)
		case "Deployment":
			strict(t, path, &b.deployment)
		case "Service":
			strict(t, path, &b.service)
		case "Job":
			strict(t, path, &b.job)
		case "ServiceMonitor":
			strict(t, path, &b.monitor)
		case "HorizontalPodAutoscaler":
			strict(t, path, &autoscalingv2.HorizontalPodAutoscaler{})
		case "PodDisruptionBudget":
			strict(t, path, &policyv1.PodDisruptionBudget{})
		case "NetworkPolicy":
			strict(t, path, &networkingv1.NetworkPolicy{})
		default:
			t.Errorf("%s: kind %q has no check", path, head.Kind)
		}
	}
	return b
}

func TestManifestsDecodeAndAgreeWithTheService(t *testing.T) {
	b := load(t)
	spec, err := api.GetSpec()
	if err != nil {
		t.Fatal(err)
	}
	pod := b.deployment.Spec.Template.Spec
	ports := map[string]int32{}
	for _, p := range pod.Containers[0].Ports {
		ports[p.Name] = p.ContainerPort
	}
	port := func(variable string) int32 {
		_, p, err := net.SplitHostPort(b.config.Data[variable])
		if err != nil {
			t.Fatalf("%s: %v", variable, err)
		}
		var n int32
		_, _ = fmt.Sscan(p, &n)
		return n
	}
	if ports["http"] != port("HTTP_ADDR") || ports["admin"] != port("ADMIN_ADDR") {
		t.Errorf("container ports %v do not match HTTP_ADDR and ADMIN_ADDR", ports)
	}

	c := pod.Containers[0]
	for name, probe := range map[string]*corev1.Probe{"startup": c.StartupProbe, "liveness": c.LivenessProbe, "readiness": c.ReadinessProbe} {
		if probe == nil || probe.HTTPGet == nil {
			t.Errorf("%s probe missing", name)
			continue
		}
		if spec.Paths.Find(probe.HTTPGet.Path) == nil || spec.Paths.Find(probe.HTTPGet.Path).Get == nil {
			t.Errorf("%s probe %s is not a GET route of the contract", name, probe.HTTPGet.Path)
		}
		if _, ok := ports[probe.HTTPGet.Port.StrVal]; !ok {
			t.Errorf("%s probe port %q is not a container port", name, probe.HTTPGet.Port.StrVal)
		}
	}
	if c.ReadinessProbe.HTTPGet.Path != "/readyz" || c.LivenessProbe.HTTPGet.Path != "/healthz" {
		t.Error("readiness must be /readyz (it fails first on SIGTERM), liveness /healthz (it must not restart a pod for a store outage)")
	}

	delay, err1 := time.ParseDuration(b.config.Data["SHUTDOWN_DELAY"])
	drain, err2 := time.ParseDuration(b.config.Data["SHUTDOWN_TIMEOUT"])
	if err1 != nil || err2 != nil || pod.TerminationGracePeriodSeconds == nil ||
		time.Duration(*pod.TerminationGracePeriodSeconds)*time.Second <= delay+drain {
		t.Errorf("terminationGracePeriodSeconds must exceed SHUTDOWN_DELAY + SHUTDOWN_TIMEOUT (%v + %v)", delay, drain)
	}

	for _, ct := range append(slices.Clone(pod.Containers), b.job.Spec.Template.Spec.Containers...) {
		if i := strings.LastIndex(ct.Image, ":"); i < 0 || strings.HasSuffix(ct.Image, ":latest") || strings.Contains(ct.Image[i:], "/") {
			t.Errorf("%s: image %q must carry a pinned tag", ct.Name, ct.Image)
		}
		if ct.Resources.Requests.Cpu().IsZero() || ct.Resources.Requests.Memory().IsZero() || ct.Resources.Limits.Memory().IsZero() {
			t.Errorf("%s: set cpu and memory requests and a memory limit", ct.Name)
		}
		if sc := ct.SecurityContext; sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
			sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			t.Errorf("%s: read-only root filesystem, no privilege escalation", ct.Name)
		}
	}
	if sc := pod.SecurityContext; sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
		t.Error("the pod must run as non-root")
	}
	if b.job.Spec.Template.Spec.Containers[0].Args[0] != "migrate" || b.config.Data["MIGRATE_ON_START"] != "false" {
		t.Error("migrations run in the Job (server migrate up), not at each pod's start")
	}

	svcPorts := map[string]bool{}
	for _, p := range b.service.Spec.Ports {
		svcPorts[p.Name] = true
		if _, ok := ports[p.TargetPort.StrVal]; !ok {
			t.Errorf("service port %s targets %q, not a container port", p.Name, p.TargetPort.StrVal)
		}
	}
	for _, e := range b.monitor.Spec.Endpoints {
		if !svcPorts[e.Port] || e.Path != "/metrics" {
			t.Errorf("ServiceMonitor scrapes %s%s; want a service port serving /metrics", e.Port, e.Path)
		}
	}
}

// The ConfigMap names only variables the service reads, and with made-up secrets it is a
// configuration the service accepts (upstream mode).
func TestConfigMapIsAValidConfiguration(t *testing.T) {
	b := load(t)
	usage := config.Usage()
	env := map[string]string{}
	for k, v := range b.config.Data {
		if !strings.Contains(usage, " "+k+" ") {
			t.Errorf("ConfigMap sets %s, which the service does not read", k)
		}
		env[k] = v
	}
	key := filepath.Join(t.TempDir(), "snap.pem") // config checks the variable; the app reads the key
	_ = os.WriteFile(key, []byte("stand-in"), 0o600)
	for k, v := range map[string]string{
		"GOPAY_CLIENT_ID": "id", "GOPAY_CLIENT_SECRET": "secret", "SNAP_CLIENT_KEY": "key", "SNAP_CLIENT_SECRET": "secret",
		"SNAP_PARTNER_ID": "PARTNER", "SNAP_MERCHANT_ID": "G12345", "MIDTRANS_SERVER_KEY": "Mid-server-x",
		"ENCRYPTION_KEYS": "k1:" + strings.Repeat("A", 43) + "=", "BLIND_INDEX_KEY": strings.Repeat("A", 43) + "=",
		"SESSION_KEYS": "s1:" + strings.Repeat("A", 43) + "=", "CARD_CLIENT_ID": "CARDCLIENT0123456789012345678901",
		"CARD_MERCHANT_ID": "G12345", "SNAP_PRIVATE_KEY_FILE": key,
	} {
		env[k] = v
	}
	if _, err := config.Load(func(k string) string { return env[k] }); err != nil {
		t.Fatalf("the ConfigMap (with stand-in secrets) is refused: %v", err)
	}
}

func TestProductionOverlay(t *testing.T) {
	var k kustomization
	strict(t, "overlays/production/kustomization.yaml", &k)
	if !slices.Contains(k.Resources, "../../base") || k.Namespace == "" {
		t.Fatalf("the overlay must build on the base in its own namespace: %+v", k)
	}
	for _, img := range k.Images {
		if img.NewTag == "" || img.NewTag == "latest" {
			t.Errorf("overlay image %s: pin a tag", img.Name)
		}
	}
	for _, p := range k.Patches {
		var d appsv1.Deployment
		strict(t, filepath.Join("overlays/production", p.Path), &d)
		if d.Name != "gopay-bff" || d.Spec.Template.Spec.Containers[0].Name != "bff" {
			t.Errorf("patch %s names no container of the base", p.Path)
		}
	}
}
