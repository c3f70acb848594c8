package sidecar_test

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/sidecarkit/sidecarkit/patch"
	"github.com/sidecarkit/sidecarkit/sidecar"
)

// An application container that already has an item of the Spec's
// appMounts or appEnv, identical to what the injection would add, keeps it
// as its author's: the record lists it under presetMounts/presetEnv, and
// neither an update of the Spec, nor a Spec that drops the item, nor
// Uninject touches it, while the other application containers follow the
// Spec. (FuzzInject found Uninject removing such a variable.)
func TestAuthorsIdenticalAppItems(t *testing.T) {
	full := loadSpec(t, "full")
	raw := apply(t, pod(t, "several-init"), patch.Ops{
		op("add", "/spec/volumes/-", `{"name":"proxy-socket","emptyDir":{"medium":"Memory"}}`),
		op("add", "/spec/containers/0/env/-", `{"name":"PROXY_SOCKET","value":"/var/run/proxy/proxy.sock","x-author":1}`),
		op("add", "/spec/containers/0/volumeMounts/-", `{"name":"proxy-socket","mountPath":"/var/run/proxy","readOnly":true,"x-author":2}`),
	})
	injected, ops, res := injectRaw(t, raw, full, sidecar.Options{Mode: sidecar.Native}, native)
	if len(res.Warnings) > 0 {
		t.Errorf("warnings %q, want none", res.Warnings)
	}
	if o := opsTouching(ops, "/spec/containers/0/"); len(o) > 0 {
		t.Errorf("the author's container is edited: %s", mustJSON(t, o))
	}
	rec := readRecord(t, injected)
	if got := strings.Join(rec.PresetEnv["PROXY_SOCKET"], ","); got != "app" || len(rec.PresetEnv) != 1 {
		t.Errorf("record presetEnv %v, want PROXY_SOCKET: [app]", rec.PresetEnv)
	}
	if got := strings.Join(rec.PresetMounts["/var/run/proxy"], ","); got != "app" || len(rec.PresetMounts) != 1 {
		t.Errorf("record presetMounts %v, want /var/run/proxy: [app]", rec.PresetMounts)
	}
	checkUnknownKept(t, raw, injected)
	converged(t, injected, full, sidecar.Native)

	has := func(raw []byte) (env, mount map[string]bool) {
		env, mount = map[string]bool{}, map[string]bool{}
		for _, c := range decode(t, raw).Spec.Containers {
			env[c.Name] = findEnv(c.Env, "PROXY_SOCKET") != nil
			mount[c.Name] = findMount(c.VolumeMounts, "/var/run/proxy") != nil
		}
		return env, mount
	}

	// Uninject: app keeps both, worker loses both.
	back := uninjectRaw(t, injected)
	if env, mount := has(back); !env["app"] || !mount["app"] || env["worker"] || mount["worker"] {
		t.Errorf("after Uninject: env %v, mounts %v; want app's kept, worker's removed", env, mount)
	}

	// A new value: worker's follows, app's stays the author's (a warning
	// says so) and stays in the record.
	v2 := fullWith(t, func(s *sidecar.Spec) { s.AppEnv[0].Value = "/var/run/proxy/v2.sock" })
	updated, _, res := injectRaw(t, injected, v2, sidecar.Options{Mode: sidecar.Native}, native)
	if !hasWarning(res, `spec.containers[0].env[1]: container "app" sets PROXY_SOCKET itself; its value is kept`) {
		t.Errorf("warnings %q lack the author's kept value", res.Warnings)
	}
	after := decode(t, updated)
	if e := findEnv(after.Spec.Containers[0].Env, "PROXY_SOCKET"); e == nil || e.Value != "/var/run/proxy/proxy.sock" {
		t.Errorf("app's own env changed: %+v", e)
	}
	if e := findEnv(after.Spec.Containers[1].Env, "PROXY_SOCKET"); e == nil || e.Value != "/var/run/proxy/v2.sock" {
		t.Errorf("worker's env not updated: %+v", e)
	}
	if got := strings.Join(readRecord(t, updated).PresetEnv["PROXY_SOCKET"], ","); got != "app" {
		t.Errorf("record presetEnv after the update: %q, want app", got)
	}

	// A Spec without the items: removed from worker only.
	v3 := fullWith(t, func(s *sidecar.Spec) {
		s.AppEnv = []corev1.EnvVar{{Name: "OTHER", Value: "1"}}
		s.AppMounts = nil
	})
	dropped, _, _ := injectRaw(t, injected, v3, sidecar.Options{Mode: sidecar.Native}, native)
	if env, mount := has(dropped); !env["app"] || !mount["app"] || env["worker"] || mount["worker"] {
		t.Errorf("after a Spec that drops them: env %v, mounts %v; want app's kept, worker's removed", env, mount)
	}
	if r := readRecord(t, dropped); len(r.PresetEnv)+len(r.PresetMounts) != 0 {
		t.Errorf("record keeps presets of items the Spec dropped: %v %v", r.PresetEnv, r.PresetMounts)
	}
}
