package patch_test

import (
	"reflect"
	"testing"

	"github.com/sidecarkit/sidecarkit/patch"
)

func TestUnknownFields(t *testing.T) {
	for _, tc := range []struct {
		name, doc string
		list      patch.List
		index     int
		want      []string
	}{
		{"pod", `{"kind":"Pod","spec":{"initContainers":[{"name":"a"},{"name":"proxy","image":"i","securityContext":{"privileged":false,"appArmorProfile":{"type":"Unconfined"}},"x-new":1,"volumeMounts":[{"name":"v","mountPath":"/m","recursiveReadOnly":"Enabled"}]}]}}`,
			patch.InitContainers, 1, []string{"spec.initContainers[1].securityContext.appArmorProfile", "spec.initContainers[1].volumeMounts[mountPath=/m].recursiveReadOnly", "spec.initContainers[1].x-new"}},
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
