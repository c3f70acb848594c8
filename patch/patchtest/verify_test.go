package patchtest_test

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"

	"github.com/sidecarkit/sidecarkit/patch"
	"github.com/sidecarkit/sidecarkit/patch/patchtest"
)

// verifyPod is a Pod with fields unknown to the compiled types at several
// levels, including a toleration (an unkeyed list) and annotation keys
// that need escaping.
const verifyPod = `{
  "apiVersion": "v1", "kind": "Pod", "x-top": 1,
  "metadata": {"name": "p", "annotations": {"example.com/a~b": "v"}, "x-meta": {"m": 1}},
  "spec": {
    "x-spec": "s",
    "containers": [
      {"name": "app", "image": "nginx", "x-foo": {"keep": true},
       "securityContext": {"runAsUser": 1000, "x-sc": 1},
       "volumeMounts": [{"name": "data", "mountPath": "/data", "x-vm": 1}],
       "env": [{"name": "A", "value": "1", "x-env": 1}]},
      {"name": "other", "image": "busybox"}
    ],
    "tolerations": [{"key": "k", "operator": "Exists", "x-tol": 1}],
    "volumes": [{"name": "data", "emptyDir": {"x-ed": 1}}]
  },
  "status": {"phase": "Pending", "x-status": 1}
}`

// verifyDeployment wraps a pod template with unknown fields.
const verifyDeployment = `{
  "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
  "spec": {"replicas": 1, "x-dspec": 1, "selector": {"matchLabels": {"app": "a"}},
    "template": {"metadata": {"labels": {"app": "a"}},
      "spec": {"containers": [{"name": "app", "image": "nginx", "x-foo": 1}]}}}
}`

func vOp(op, path string, value interface{}) patch.Op {
	o := patch.Op{Op: op, Path: path}
	if value != nil {
		b, err := json.Marshal(value)
		if err != nil {
			panic(err)
		}
		o.Value = b
	}
	return o
}

func vRaw(op, path, raw string) patch.Op {
	return patch.Op{Op: op, Path: path, Value: json.RawMessage(raw)}
}

func vMove(op, from, path string) patch.Op { return patch.Op{Op: op, From: from, Path: path} }

var sidecar = `{"name":"proxy","image":"proxy:2","restartPolicy":"Always"}`

// typedContainer decodes the named container of doc into corev1.Container
// and re-marshals it, as webhooks that rebuild elements from typed structs
// do. Unknown fields are lost.
func typedContainer(t *testing.T, doc string, ptr string) json.RawMessage {
	t.Helper()
	var pod map[string]interface{}
	if err := json.Unmarshal([]byte(doc), &pod); err != nil {
		t.Fatal(err)
	}
	var cur interface{} = pod
	for _, tok := range strings.Split(strings.TrimPrefix(ptr, "/"), "/") {
		switch x := cur.(type) {
		case map[string]interface{}:
			cur = x[tok]
		case []interface{}:
			i, _ := strconv.Atoi(tok)
			cur = x[i]
		}
	}
	raw, _ := json.Marshal(cur)
	var c corev1.Container
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	out, err := json.Marshal(&c)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// summary renders violations as "kind path op" lines for comparison.
func summary(err error) []string {
	var ve *patchtest.VerifyError
	if !errors.As(err, &ve) {
		if err != nil {
			return []string{"error: " + err.Error()}
		}
		return nil
	}
	var out []string
	for _, v := range ve.Violations {
		out = append(out, v.Kind.String()+" "+v.Path+" "+strconv.Itoa(v.Op))
	}
	return out
}

func TestVerify(t *testing.T) {
	tests := []struct {
		name   string
		doc    string
		ops    func(t *testing.T) patch.Ops
		want   []string
		reason string
	}{
		{
			name: "insert native sidecar at initContainers 0 of an absent list",
			doc:  verifyPod,
			ops: func(*testing.T) patch.Ops {
				return patch.Ops{vRaw("add", "/spec/initContainers", "["+sidecar+"]")}
			},
		},
		{
			name: "insert into initContainers at index 0 before existing elements",
			doc:  strings.Replace(verifyPod, `"x-spec": "s",`, `"x-spec": "s", "initContainers": [{"name": "init", "image": "i", "x-init": 1}],`, 1),
			ops: func(*testing.T) patch.Ops {
				return patch.Ops{vRaw("add", "/spec/initContainers/0", sidecar)}
			},
		},
		{
			name: "append a container, a volume and a mount",
			doc:  verifyPod,
			ops: func(*testing.T) patch.Ops {
				return patch.Ops{
					vRaw("add", "/spec/containers/-", `{"name":"log","image":"l"}`),
					vRaw("add", "/spec/volumes/0", `{"name":"logs","emptyDir":{}}`),
					vRaw("add", "/spec/containers/0/volumeMounts/-", `{"name":"logs","mountPath":"/logs"}`),
					vRaw("add", "/spec/containers/0/env/0", `{"name":"B","value":"2"}`),
				}
			},
		},
		{
			name: "typed re-marshal of a container drops its unknown fields",
			doc:  verifyPod,
			ops: func(t *testing.T) patch.Ops {
				return patch.Ops{{Op: "replace", Path: "/spec/containers/0", Value: typedContainer(t, verifyPod, "/spec/containers/0")}}
			},
			want: []string{
				"dropped spec.containers[name=app].env[name=A].x-env 0",
				"dropped spec.containers[name=app].securityContext.x-sc 0",
				"dropped spec.containers[name=app].volumeMounts[mountPath=/data].x-vm 0",
				"dropped spec.containers[name=app].x-foo 0",
			},
		},
		{
			name: "replacing an element with its raw self keeps everything",
			doc:  verifyPod,
			ops: func(*testing.T) patch.Ops {
				return patch.Ops{vRaw("replace", "/spec/containers/0", `{"name": "app", "image": "nginx:2", "x-foo": {"keep": true},
				  "securityContext": {"runAsUser": 1000, "x-sc": 1},
				  "volumeMounts": [{"name": "data", "mountPath": "/data", "x-vm": 1}],
				  "env": [{"name": "A", "value": "1", "x-env": 1}]}`)}
			},
		},
		{
			name: "controller-runtime diff of a typed marshal removes unknown fields",
			doc:  verifyPod,
			ops: func(*testing.T) patch.Ops {
				return patch.Ops{
					{Op: "remove", Path: "/spec/containers/0/x-foo"},
					{Op: "remove", Path: "/spec/containers/0/securityContext/x-sc"},
					{Op: "remove", Path: "/spec/x-spec"},
					{Op: "remove", Path: "/x-top"},
					vRaw("add", "/spec/initContainers", "["+sidecar+"]"),
				}
			},
			want: []string{
				"dropped spec.containers[name=app].securityContext.x-sc 1",
				"dropped spec.containers[name=app].x-foo 0",
				"dropped spec.x-spec 2",
				"dropped x-top 3",
			},
			reason: "PatchResponseFromRaw(raw, json.Marshal(typedPod)) turns every unknown field into a remove op",
		},
		{
			name: "typed-vs-typed diff after an insert at containers 0 misattributes unknown fields",
			doc:  verifyPod,
			ops: func(*testing.T) patch.Ops {
				return patch.Ops{
					vOp("replace", "/spec/containers/0/name", "proxy"),
					vOp("replace", "/spec/containers/0/image", "proxy:2"),
					{Op: "remove", Path: "/spec/containers/0/securityContext/runAsUser"},
					{Op: "remove", Path: "/spec/containers/0/volumeMounts/0/name"},
					vRaw("add", "/spec/containers/1", `{"name":"app","image":"nginx"}`),
				}
			},
			want: []string{
				"moved spec.containers[name=app].env[name=A].x-env 0",
				"moved spec.containers[name=app].securityContext.x-sc 0",
				"moved spec.containers[name=app].volumeMounts[mountPath=/data].x-vm 0",
				"moved spec.containers[name=app].x-foo 0",
			},
			reason: "gomodules CreatePatch compares typed marshals by index: app's raw element is edited into the sidecar",
		},
		{
			name: "insert before an unkeyed element is not a move",
			doc:  verifyPod,
			ops: func(*testing.T) patch.Ops {
				return patch.Ops{vRaw("add", "/spec/tolerations/0", `{"key":"sidecar","operator":"Exists"}`)}
			},
		},
		{
			name: "replacing an unkeyed element drops its unknown field",
			doc:  verifyPod,
			ops: func(*testing.T) patch.Ops {
				return patch.Ops{vRaw("replace", "/spec/tolerations/0", `{"key":"k","operator":"Exists"}`)}
			},
			want: []string{"dropped spec.tolerations[0].x-tol 0"},
		},
		{
			name: "moving a container to initContainers carries its unknown fields",
			doc:  verifyPod,
			ops: func(*testing.T) patch.Ops {
				return patch.Ops{
					vRaw("add", "/spec/initContainers", "[]"),
					vMove("move", "/spec/containers/0", "/spec/initContainers/0"),
					vOp("add", "/spec/initContainers/0/restartPolicy", "Always"),
				}
			},
		},
		{
			name: "a moved container that is then rebuilt loses its fields",
			doc:  verifyPod,
			ops: func(t *testing.T) patch.Ops {
				return patch.Ops{
					vRaw("add", "/spec/initContainers", "[]"),
					vMove("move", "/spec/containers/0", "/spec/initContainers/0"),
					{Op: "replace", Path: "/spec/initContainers/0", Value: typedContainer(t, verifyPod, "/spec/containers/0")},
				}
			},
			want: []string{
				"dropped spec.containers[name=app].env[name=A].x-env 2",
				"dropped spec.containers[name=app].securityContext.x-sc 2",
				"dropped spec.containers[name=app].volumeMounts[mountPath=/data].x-vm 2",
				"dropped spec.containers[name=app].x-foo 2",
			},
		},
		{
			name: "reordering containers with move is covered",
			doc:  verifyPod,
			ops: func(*testing.T) patch.Ops {
				return patch.Ops{vMove("move", "/spec/containers/1", "/spec/containers/0")}
			},
		},
		{
			name: "removing a container takes its unknown fields with it",
			doc:  verifyPod,
			ops: func(*testing.T) patch.Ops {
				return patch.Ops{{Op: "remove", Path: "/spec/containers/0"}}
			},
			reason: "uninjecting a container is intended",
		},
		{
			name: "removing a known object that held an unknown field",
			doc:  verifyPod,
			ops: func(*testing.T) patch.Ops {
				return patch.Ops{{Op: "remove", Path: "/spec/containers/0/securityContext"}}
			},
		},
		{
			name: "adding over an existing object drops its unknown field",
			doc:  verifyPod,
			ops: func(*testing.T) patch.Ops {
				return patch.Ops{vRaw("add", "/spec/containers/0/securityContext", `{"runAsUser":0}`)}
			},
			want: []string{"dropped spec.containers[name=app].securityContext.x-sc 0"},
		},
		{
			name: "overwriting an unknown field changes it",
			doc:  verifyPod,
			ops: func(*testing.T) patch.Ops {
				return patch.Ops{vOp("replace", "/spec/x-spec", "t")}
			},
			want: []string{"changed spec.x-spec 0"},
		},
		{
			name: "renaming a container moves its unknown fields",
			doc:  verifyPod,
			ops: func(*testing.T) patch.Ops {
				return patch.Ops{vOp("replace", "/spec/containers/0/name", "app2")}
			},
			want: []string{
				"moved spec.containers[name=app].env[name=A].x-env 0",
				"moved spec.containers[name=app].securityContext.x-sc 0",
				"moved spec.containers[name=app].volumeMounts[mountPath=/data].x-vm 0",
				"moved spec.containers[name=app].x-foo 0",
			},
		},
		{
			name: "annotation keys with / and ~ are escaped",
			doc:  verifyPod,
			ops: func(*testing.T) patch.Ops {
				return patch.Ops{
					vOp("add", "/metadata/annotations/sidecar.example.com~1inject~0ed", "true"),
					vOp("replace", "/metadata/annotations/example.com~1a~0b", "w"),
				}
			},
		},
		{
			name: "unescaped slash in an annotation key does not apply",
			doc:  verifyPod,
			ops: func(*testing.T) patch.Ops {
				return patch.Ops{vOp("add", "/metadata/annotations/sidecar.example.com/inject", "true")}
			},
			want: []string{"apply failed /metadata/annotations/sidecar.example.com/inject 0"},
		},
		{
			name: "null list is replaced whole",
			doc:  strings.Replace(verifyPod, `"x-spec": "s",`, `"x-spec": "s", "initContainers": null,`, 1),
			ops: func(*testing.T) patch.Ops {
				return patch.Ops{vRaw("add", "/spec/initContainers", "["+sidecar+"]")}
			},
		},
		{
			name: "append to an absent list does not apply",
			doc:  verifyPod,
			ops: func(*testing.T) patch.Ops {
				return patch.Ops{vRaw("add", "/spec/initContainers/-", sidecar)}
			},
			want: []string{"apply failed /spec/initContainers/- 0"},
		},
		{
			name: "negative index is refused in strict mode",
			doc:  verifyPod,
			ops: func(*testing.T) patch.Ops {
				return patch.Ops{{Op: "remove", Path: "/spec/containers/-1"}}
			},
			want: []string{"apply failed /spec/containers/-1 0"},
		},
		{
			name: "verification stops at the first op that fails",
			doc:  verifyPod,
			ops: func(*testing.T) patch.Ops {
				return patch.Ops{{Op: "remove", Path: "/x-top"}, {Op: "remove", Path: "/spec/nothing"}}
			},
			want: []string{"apply failed /spec/nothing 1"},
		},
		{
			name: "pointer without leading slash",
			doc:  verifyPod,
			ops: func(*testing.T) patch.Ops {
				return patch.Ops{vOp("add", "spec/x", 1)}
			},
			want:   []string{"apply failed spec/x 0"},
			reason: "json-patch would read it as /x",
		},
		{
			name: "unknown op and bad values",
			doc:  verifyPod,
			ops: func(*testing.T) patch.Ops {
				return patch.Ops{{Op: "merge", Path: "/spec"}}
			},
			want: []string{"apply failed /spec 0"},
		},
		{
			name: "value with a repeated member",
			doc:  verifyPod,
			ops: func(*testing.T) patch.Ops {
				return patch.Ops{vRaw("add", "/spec/hostname", `{"a":1,"a":2}`)}
			},
			want: []string{"apply failed /spec/hostname 0"},
		},
		{
			name: "failed test guard",
			doc:  verifyPod,
			ops: func(*testing.T) patch.Ops {
				return patch.Ops{vOp("test", "/spec/containers/0/name", "other"), vRaw("add", "/spec/containers/0", sidecar)}
			},
			want: []string{"apply failed /spec/containers/0/name 0"},
		},
		{
			name: "passing test guard",
			doc:  verifyPod,
			ops: func(*testing.T) patch.Ops {
				return patch.Ops{vOp("test", "/spec/containers/0/name", "app"), vRaw("add", "/spec/containers/0", sidecar)}
			},
		},
		{
			name: "test of an array holding null does not panic",
			doc:  strings.Replace(verifyPod, `"x-top": 1,`, `"x-top": [null, 1],`, 1),
			ops: func(*testing.T) patch.Ops {
				return patch.Ops{vRaw("test", "/x-top", `[null, 1]`)}
			},
			want:   []string{"apply failed /x-top 0"},
			reason: "json-patch v5.5.0 through v5.9.11 (and v4.13.0) dereference nil here",
		},
		{
			name: "replace with null then add beneath does not panic",
			doc:  verifyPod,
			ops: func(*testing.T) patch.Ops {
				return patch.Ops{vRaw("add", "/spec/hostname", "null"), vOp("add", "/spec/hostname/x", 1)}
			},
			want: []string{"apply failed /spec/hostname/x 1"},
		},
		{
			name: "copy of a known element",
			doc:  verifyPod,
			ops: func(*testing.T) patch.Ops {
				return patch.Ops{vMove("copy", "/spec/containers/0/env/0", "/spec/containers/1/env")}
			},
		},
		{
			name: "deployment template insert",
			doc:  verifyDeployment,
			ops: func(*testing.T) patch.Ops {
				return patch.Ops{vRaw("add", "/spec/template/spec/initContainers", "["+sidecar+"]")}
			},
		},
		{
			name: "deployment template typed rebuild",
			doc:  verifyDeployment,
			ops: func(t *testing.T) patch.Ops {
				return patch.Ops{{Op: "replace", Path: "/spec/template/spec/containers/0", Value: typedContainer(t, verifyDeployment, "/spec/template/spec/containers/0")}}
			},
			want: []string{"dropped spec.template.spec.containers[name=app].x-foo 0"},
		},
		{
			name: "empty patch",
			doc:  verifyPod,
			ops:  func(*testing.T) patch.Ops { return nil },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := patchtest.Verify([]byte(tt.doc), tt.ops(t))
			if diff := cmp.Diff(tt.want, summary(err)); diff != "" {
				t.Errorf("Verify violations mismatch (-want +got):\n%s\nerror: %v\nreason: %s", diff, err, tt.reason)
			}
		})
	}
}

func TestVerifyAs(t *testing.T) {
	bare := []byte(`{"apiVersion":"apps/v1","metadata":{"name":"web"},"spec":{"replicas":2,"template":{"spec":{"containers":[{"name":"app","image":"app:1","x-future":{"a":1}}]}}}}`)
	ops := patch.Ops{
		{Op: "add", Path: "/spec/template/spec/initContainers", Value: json.RawMessage(`[{"name":"proxy","image":"proxy:1","restartPolicy":"Always"}]`)},
		{Op: "add", Path: "/spec/template/spec/containers/0/image", Value: json.RawMessage(`"app:2"`)},
	}
	if err := patchtest.VerifyAs(bare, "Deployment", ops); err != nil {
		t.Errorf("VerifyAs(Deployment) of a bare Deployment: %v", err)
	}
	// Without the kind, Verify reads the object as a Pod: spec.template is
	// not a Pod field, so edits under it are edits of unknown fields.
	if err := patchtest.Verify(bare, ops); err == nil {
		t.Errorf("Verify of a bare Deployment read as a Pod: want violations")
	}
	withKind := []byte(`{"apiVersion":"apps/v1","kind":"Deployment","spec":{"template":{"spec":{"containers":[{"name":"app"}]}}}}`)
	if err := patchtest.VerifyAs(withKind, "Deployment", ops[:1]); err != nil {
		t.Errorf("VerifyAs(Deployment) of a Deployment: %v", err)
	}
	err := patchtest.VerifyAs(withKind, "Pod", ops[:1])
	if !errors.Is(err, patchtest.ErrUnsupportedKind) || !strings.Contains(err.Error(), `the document is a "Deployment"`) {
		t.Errorf("VerifyAs(Pod) of a Deployment: %v, want ErrUnsupportedKind naming the document's kind", err)
	}
	if err := patchtest.VerifyAs(bare, "Service", ops); !errors.Is(err, patchtest.ErrUnsupportedKind) {
		t.Errorf("VerifyAs(Service): %v, want ErrUnsupportedKind", err)
	}
}
