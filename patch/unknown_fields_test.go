package patch_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/sidecarkit/sidecarkit/patch"
	corev1 "k8s.io/api/core/v1"
)

// compiledKnows reports whether the compiled Go type of v has a field
// whose JSON name is member. The library is tested against several
// k8s.io/api releases (.ci/run's version matrix): a field newer than
// v0.28, the minimum, is unknown there and known from its release on.
func compiledKnows(v interface{}, member string) bool {
	t := reflect.TypeOf(v)
	for i := 0; i < t.NumField(); i++ {
		if name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ","); name == member {
			return true
		}
	}
	return false
}

// unlessKnown is paths without those whose member the compiled type
// knows: known[i] says whether paths[i] is known.
func unlessKnown(paths []string, known ...bool) []string {
	var out []string
	for i, p := range paths {
		if i >= len(known) || !known[i] {
			out = append(out, p)
		}
	}
	return out
}

func TestUnknownFields(t *testing.T) {
	for _, tc := range []struct {
		name, doc string
		list      patch.List
		index     int
		want      []string
	}{
		{"pod", `{"kind":"Pod","spec":{"initContainers":[{"name":"a"},{"name":"proxy","image":"i","securityContext":{"privileged":false,"appArmorProfile":{"type":"Unconfined"}},"x-new":1,"volumeMounts":[{"name":"v","mountPath":"/m","recursiveReadOnly":"Enabled"}]}]}}`,
			// appArmorProfile and recursiveReadOnly came with
			// Kubernetes 1.30 (k8s.io/api v0.30): unknown to v0.28.
			patch.InitContainers, 1, unlessKnown(
				[]string{"spec.initContainers[1].securityContext.appArmorProfile", "spec.initContainers[1].volumeMounts[mountPath=/m].recursiveReadOnly", "spec.initContainers[1].x-new"},
				compiledKnows(corev1.SecurityContext{}, "appArmorProfile"), compiledKnows(corev1.VolumeMount{}, "recursiveReadOnly"))},
		{"known only", `{"kind":"Pod","spec":{"containers":[{"name":"a","image":"b","env":[{"name":"E","value":"v"}]}]}}`, patch.Containers, 0, nil},
		{"deployment", `{"kind":"Deployment","spec":{"template":{"spec":{"containers":[{"name":"a","stopSignal":"SIGUSR1"}]}}}}`,
			patch.Containers, 0, []string{"spec.template.spec.containers[0].stopSignal"}},
		{"absent index", `{"kind":"Pod","spec":{"containers":[{"name":"a"}]}}`, patch.Containers, 3, nil},
		{"a repeated list: the last counts", `{"kind":"Pod","spec":{"containers":[{"name":"a","x":1}],"containers":[{"name":"b"}]}}`, patch.Containers, 0, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			obj, err := patch.Decode([]byte(tc.doc))
			if err != nil {
				t.Fatal(err)
			}
			got, err := obj.UnknownFields(tc.list, tc.index)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("UnknownFields = %q\nwant %q", got, tc.want)
			}
		})
	}
	var zero patch.Object
	if got, err := zero.UnknownFields(patch.Containers, 0); got != nil || err != nil {
		t.Errorf("zero Object: %v, %v", got, err)
	}
}

// TestUnknownFieldsBadList: a list that is not a container list is an
// error, whether or not the Object was decoded from a document.
func TestUnknownFieldsBadList(t *testing.T) {
	decoded, err := patch.Decode([]byte(`{"kind":"Pod","spec":{"containers":[{"name":"a","x":1}]}}`))
	if err != nil {
		t.Fatal(err)
	}
	for name, o := range map[string]*patch.Object{"decoded": decoded, "zero": {}} {
		got, err := o.UnknownFields("ephemeralContainers", 0)
		want := `patch: unknown fields: unknown container list "ephemeralContainers" (want "initContainers" or "containers")`
		if got != nil || err == nil || err.Error() != want {
			t.Errorf("%s Object: UnknownFields = %v, %v; want the error %s", name, got, err, want)
		}
	}
}
