package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sidecarkit/sidecarkit/admission"
	"github.com/sidecarkit/sidecarkit/sidecar"
)

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestLoadConfig(t *testing.T) {
	sidecarYAML := "name: proxy\nimage: registry.example/proxy:2\n"
	for _, tc := range []struct {
		name, config string
		want         string // error substring; empty for success
		check        func(t *testing.T, c *fileConfigResult)
	}{
		{name: "inline", config: testConfig, check: func(t *testing.T, c *fileConfigResult) {
			if c.Spec.Container.Name != "proxy" || len(c.Spec.AppMounts) != 1 || c.ExcludeNamespaces[0] != "kube-system" {
				t.Errorf("config %+v", c)
			}
		}},
		{name: "sidecarFile relative", config: "sidecarFile: sidecar.yaml\nmode: pinned\nallowPinned: true\nfallback: legacy\nworkloads: true\n", check: func(t *testing.T, c *fileConfigResult) {
			if c.Spec.Container.Image != "registry.example/proxy:2" || c.Options.Mode != sidecar.Pinned || !c.Options.AllowPinned || !c.Workloads {
				t.Errorf("config %+v", c)
			}
		}},
		{name: "universal", config: "sidecarFile: sidecar.yaml\nmode: universal\nuniversal: {handshake: [/bin/handshake]}\n", check: func(t *testing.T, c *fileConfigResult) {
			if c.Options.Universal == nil {
				t.Error("no universal planner")
			}
		}},
		{name: "both sidecars", config: "sidecarFile: sidecar.yaml\nsidecar: {name: x, image: y}\n", want: "sidecar and sidecarFile exclude each other"},
		{name: "no sidecar", config: "mode: native\n", want: "sidecar or sidecarFile is required"},
		{name: "unknown field", config: "sidecarFile: sidecar.yaml\nmdoe: native\n", want: `unknown field "mdoe"`},
		{name: "bad mode", config: "sidecarFile: sidecar.yaml\nmode: sometimes\n", want: `mode: sidecar: unknown mode "sometimes"`},
		{name: "bad policy", config: "sidecarFile: sidecar.yaml\nselection: {policy: maybe}\n", want: `selection.policy: "maybe"`},
		{name: "universal without runner", config: "sidecarFile: sidecar.yaml\nuniversal: {mountPath: /x}\n", want: "universal: handshake or handshakeImage is required"},
		{name: "missing sidecarFile", config: "sidecarFile: nope.yaml\n", want: "sidecarFile: stat "},
		{name: "invalid sidecar", config: "sidecar: {name: Bad_Name, image: x}\n", want: "sidecar.container.name: Invalid value"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeFiles(t, map[string]string{"config.yaml": tc.config, "sidecar.yaml": sidecarYAML})
			c, err := loadConfig(filepath.Join(dir, "config.yaml"))
			if err == nil && tc.want == "" {
				// New validates the spec; run it as main does.
				_, err = newWebhookForTest(c)
			}
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				tc.check(t, &c)
				return
			}
			if err == nil {
				_, err = newWebhookForTest(c)
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestSelection(t *testing.T) {
	meta := func(labels, annotations map[string]string) *metav1.ObjectMeta {
		return &metav1.ObjectMeta{Labels: labels, Annotations: annotations}
	}
	const key = "sidecar.sidecarkit.io/inject"
	for _, tc := range []struct {
		name   string
		policy string
		meta   *metav1.ObjectMeta
		inject bool
	}{
		{"opt-out default", "", meta(nil, nil), true},
		{"opt-out nil meta", "opt-out", nil, true},
		{"opt-out label false", "opt-out", meta(map[string]string{key: "false"}, nil), false},
		{"opt-out annotation disabled", "opt-out", meta(nil, map[string]string{key: "Disabled"}), false},
		{"opt-in absent", "opt-in", meta(nil, nil), false},
		{"opt-in label true", "opt-in", meta(map[string]string{key: "true"}, nil), true},
		{"opt-in annotation enabled", "opt-in", meta(nil, map[string]string{key: "enabled"}), true},
		{"label wins over annotation", "opt-in", meta(map[string]string{key: "false"}, map[string]string{key: "true"}), false},
		{"unrecognised value takes the policy", "opt-in", meta(map[string]string{key: "yes"}, nil), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := selection{Policy: tc.policy}.decide()
			if err != nil {
				t.Fatal(err)
			}
			if got := d(tc.meta, nil); got.Inject != tc.inject || got.Reason == "" {
				t.Errorf("decision %+v, want inject=%v with a reason", got, tc.inject)
			}
		})
	}
}

// run starts with a static capability, serves, and stops on cancellation;
// its startup errors name the flag or file at fault.
func TestRun(t *testing.T) {
	dir := writeFiles(t, map[string]string{"config.yaml": testConfig})
	ca := newTestCA(t)
	ca.issue(t, dir, 1)
	args := []string{"--config", filepath.Join(dir, "config.yaml"), "--tls-cert-file", filepath.Join(dir, "tls.crt"),
		"--tls-key-file", filepath.Join(dir, "tls.key"), "--addr", "127.0.0.1:0", "--apiserver-version", "v1.33.1", "--kubelet-version", "v1.29.0"}
	ctx, cancel := context.WithCancel(context.Background())
	logs := &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, args, logs) }()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(logs.String(), `"msg":"serving"`) {
		if time.Now().After(deadline) {
			t.Fatalf("not serving:\n%s", logs)
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v\n%s", err, logs)
	}
	if !strings.Contains(logs.String(), `"msg":"static capability"`) {
		t.Errorf("no capability log:\n%s", logs)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--config", filepath.Join(dir, "none.yaml")}, "none.yaml: no such file"},
		{append(args[:len(args):len(args)], "--kubelet-version", "banana"), "--kubelet-version:"},
		{append(args[:len(args):len(args)], "--log-level", "loud"), "--log-level:"},
		{[]string{"extra"}, "unexpected arguments"},
		{append(args[:2:2], "--tls-cert-file", filepath.Join(dir, "missing.crt")), "missing.crt"},
	} {
		err := run(context.Background(), tc.args, &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("run %q: error %v, want %q", tc.args, err, tc.want)
		}
	}
}

type fileConfigResult = admission.Config

func newWebhookForTest(c admission.Config) (*admission.Webhook, error) { return admission.New(c) }
