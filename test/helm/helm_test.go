// Package helm renders the Helm chart in examples/helm/timpush-exporter
// with the helm on PATH and checks what a cluster would get: one Recreate
// replica whose configuration loads without a warning, Secrets from values
// or an existing Secret, and a PrometheusRule and dashboards ConfigMap equal
// to examples/prometheus/alerts.yml and dashboards/*.json (one source, no
// drift).
package helm

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/timpush/timpush_exporter/config"
)

const (
	chart      = "../../examples/helm/timpush-exporter"
	rulesFile  = "../../examples/prometheus/alerts.yml"
	dashboards = "../../dashboards"
)

// object is the part of a rendered manifest the tests look at.
type object struct {
	Kind     string `yaml:"kind"`
	Metadata struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
	Data       map[string]string `yaml:"data"`
	StringData map[string]string `yaml:"stringData"`
	Spec       yaml.Node         `yaml:"spec"`
}

// render runs helm template with the --set values and returns the objects
// by kind (and, for ConfigMaps, by name).
func render(t *testing.T, set ...string) map[string]object {
	t.Helper()
	helm, err := exec.LookPath("helm")
	if err != nil {
		const install = "bash .ci/run installs the pinned helm (or: PATH=$(bash .ci/tools helm):$PATH)"
		if os.Getenv("CI") == "true" {
			t.Fatalf("helm is not on PATH; %s", install)
		}
		t.Skipf("helm is not on PATH; %s", install)
	}
	args := []string{"template", "test", chart}
	for _, s := range set {
		args = append(args, "--set", s)
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(helm, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("helm %s: %v\n%s", strings.Join(args, " "), err, &stderr)
	}
	objs := map[string]object{}
	dec := yaml.NewDecoder(&stdout)
	for {
		var o object
		err := dec.Decode(&o)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("helm template output: %v", err)
		}
		if o.Kind == "" {
			continue
		}
		key := o.Kind
		if o.Kind == "ConfigMap" {
			key += "/" + o.Metadata.Name
		}
		if _, dup := objs[key]; dup {
			t.Fatalf("two objects %s", key)
		}
		objs[key] = o
	}
	return objs
}

func decodeSpec(t *testing.T, o object, v any) {
	t.Helper()
	if err := o.Spec.Decode(v); err != nil {
		t.Fatalf("%s %s: spec: %v", o.Kind, o.Metadata.Name, err)
	}
}

func TestDefaultRelease(t *testing.T) {
	objs := render(t)
	for _, kind := range []string{"Deployment", "Service", "PersistentVolumeClaim", "Secret",
		"ConfigMap/test-timpush-exporter", "ConfigMap/test-timpush-exporter-dashboards"} {
		if _, ok := objs[kind]; !ok {
			t.Errorf("no %s rendered with the default values", kind)
		}
	}
	for _, kind := range []string{"ServiceMonitor", "PrometheusRule"} {
		if _, ok := objs[kind]; ok {
			t.Errorf("%s rendered by default; it is optional (needs the Operator's CRDs)", kind)
		}
	}

	var dep struct {
		Replicas int `yaml:"replicas"`
		Strategy struct {
			Type string `yaml:"type"`
		} `yaml:"strategy"`
		Template struct {
			Spec struct {
				Volumes []struct {
					Name string `yaml:"name"`
					PVC  *struct {
						ClaimName string `yaml:"claimName"`
					} `yaml:"persistentVolumeClaim"`
					Secret *struct {
						SecretName  string `yaml:"secretName"`
						DefaultMode int    `yaml:"defaultMode"`
					} `yaml:"secret"`
				} `yaml:"volumes"`
			} `yaml:"spec"`
		} `yaml:"template"`
	}
	decodeSpec(t, objs["Deployment"], &dep)
	if dep.Replicas != 1 || dep.Strategy.Type != "Recreate" {
		t.Errorf("Deployment: %d replicas, strategy %q; want 1 and Recreate", dep.Replicas, dep.Strategy.Type)
	}
	volumes := map[string]bool{}
	for _, v := range dep.Template.Spec.Volumes {
		switch {
		case v.PVC != nil:
			volumes["pvc"] = v.PVC.ClaimName == objs["PersistentVolumeClaim"].Metadata.Name
		case v.Secret != nil:
			volumes["secret"] = v.Secret.SecretName == objs["Secret"].Metadata.Name && v.Secret.DefaultMode == 0o440
		}
	}
	if !volumes["pvc"] || !volumes["secret"] {
		t.Errorf("Deployment volumes %+v: want the chart's PVC and its Secret with mode 0440", dep.Template.Spec.Volumes)
	}

	checkConfig(t, objs["ConfigMap/test-timpush-exporter"], objs["Secret"].StringData)
}

// checkConfig loads the rendered timpush_exporter.yml the way the pod would:
// each *_file under /etc/timpush/secrets/ is a key of the Secret, mounted
// group-readable (0440). It must load without an error or a warning.
func checkConfig(t *testing.T, cm object, secret map[string]string) {
	t.Helper()
	text, ok := cm.Data["timpush_exporter.yml"]
	if !ok {
		t.Fatalf("ConfigMap %s has no timpush_exporter.yml", cm.Metadata.Name)
	}
	dir := t.TempDir()
	for name, value := range secret {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(value), 0o440); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := config.Decode(strings.NewReader(strings.ReplaceAll(text, "/etc/timpush/secrets/", dir+"/")), dir)
	if err != nil {
		t.Fatalf("the rendered configuration does not load: %v\n%s", err, text)
	}
	if len(cfg.Warnings) != 0 {
		t.Errorf("the rendered configuration loads with warnings %q", cfg.Warnings)
	}
	if len(cfg.Apps) != 1 || cfg.Apps[0].SDKAppID != 1400000000 {
		t.Errorf("apps %+v, want the values' app prod with sdkappid 1400000000", cfg.Apps)
	}
}

func TestExistingSecret(t *testing.T) {
	objs := render(t, "secrets.existingSecret=my-keys", "persistence.existingClaim=my-claim")
	for _, kind := range []string{"Secret", "PersistentVolumeClaim"} {
		if _, ok := objs[kind]; ok {
			t.Errorf("%s rendered although an existing one is named", kind)
		}
	}
	var dep struct {
		Template struct {
			Spec struct {
				Volumes []map[string]any `yaml:"volumes"`
			} `yaml:"spec"`
		} `yaml:"template"`
	}
	decodeSpec(t, objs["Deployment"], &dep)
	want := map[string]bool{"my-keys": false, "my-claim": false}
	for _, v := range dep.Template.Spec.Volumes {
		if s, ok := v["secret"].(map[string]any); ok {
			want[s["secretName"].(string)] = true
		}
		if c, ok := v["persistentVolumeClaim"].(map[string]any); ok {
			want[c["claimName"].(string)] = true
		}
	}
	if !want["my-keys"] || !want["my-claim"] || len(want) != 2 {
		t.Errorf("Deployment volumes %v: want Secret my-keys and claim my-claim", dep.Template.Spec.Volumes)
	}
}

// TestNoDrift: the rendered PrometheusRule holds exactly the groups of
// examples/prometheus/alerts.yml, and the dashboards ConfigMap exactly the
// bytes of dashboards/*.json, every file of them.
func TestNoDrift(t *testing.T) {
	objs := render(t, "prometheusRule.enabled=true", "serviceMonitor.enabled=true")
	rule, ok := objs["PrometheusRule"]
	if !ok {
		t.Fatal("no PrometheusRule with prometheusRule.enabled=true")
	}
	if _, ok := objs["ServiceMonitor"]; !ok {
		t.Error("no ServiceMonitor with serviceMonitor.enabled=true")
	}
	var got, want struct {
		Groups []any `yaml:"groups"`
	}
	decodeSpec(t, rule, &got)
	data, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, &want); err != nil {
		t.Fatal(err)
	}
	if len(want.Groups) == 0 || !reflect.DeepEqual(got.Groups, want.Groups) {
		t.Errorf("the chart's PrometheusRule differs from %s (files/alerts.yml must link to it)", rulesFile)
	}

	paths, err := filepath.Glob(filepath.Join(dashboards, "*.json"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no dashboards in %s: %v", dashboards, err)
	}
	wantDash := map[string]string{}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		wantDash[filepath.Base(p)] = string(data)
	}
	gotDash := objs["ConfigMap/test-timpush-exporter-dashboards"].Data
	for name := range wantDash {
		if gotDash[name] != wantDash[name] {
			t.Errorf("the chart's dashboard %s differs from dashboards/%s (files/dashboards must link to dashboards/)", name, name)
		}
	}
	for name := range gotDash {
		if _, ok := wantDash[name]; !ok {
			t.Errorf("the chart ships a dashboard %s that dashboards/ does not have", name)
		}
	}
}
