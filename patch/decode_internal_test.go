package patch

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	utiljson "k8s.io/apimachinery/pkg/util/json"

	"github.com/sidecarkit/sidecarkit/internal/podgen"
)

// TestDecodeIsDecodeAsItsKind: Decode gives what DecodeAs gives for the
// document's own kind (and an error when it has none), errors included, on every
// document of the repository's testdata and on generated documents of
// every kind.
func TestDecodeIsDecodeAsItsKind(t *testing.T) {
	var docs [][]byte
	for _, glob := range []string{"testdata/*/*.json", "testdata/*.json", "../sidecar/testdata/inject/pods/*.json", "../examples/testdata/*.json"} {
		files, _ := filepath.Glob(glob)
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			docs = append(docs, b)
		}
	}
	for i := 0; i < 60; i++ {
		d, err := podgen.Generate([]byte{byte(i), byte(i * 7), byte(i * 13), 1, 2, 3, byte(i)}, podgen.Options{AnyKind: true})
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, d.JSON)
	}
	docs = append(docs, []byte(`{"spec":null}`), []byte(`{"kind":"Pod"}`), []byte(`{"spec":{"template":"x","containers":[]}}`), []byte(`[]`),
		[]byte(`{"kind":"Widget","spec":{}}`), []byte(`{"kind":"Deployment","spec":{"template":{"spec":{"containers":[]}}}}`), []byte(`{"spec":{"containers":5}}`))
	kinds := map[string]int{}
	for _, raw := range docs {
		got, err := Decode(raw)
		var head struct {
			Kind string `json:"kind"`
		}
		if utiljson.Unmarshal(raw, &head) != nil {
			if err == nil {
				t.Errorf("Decode of a document that is not an object: no error: %.200s", raw)
			}
			continue
		}
		kind := head.Kind
		if kind == "" {
			// Decode never guesses a kind.
			if err == nil || !strings.Contains(err.Error(), "has no \"kind\": use DecodeAs") {
				t.Errorf("Decode of a document without a kind = %v, want the error naming DecodeAs: %.200s", err, raw)
			}
			continue
		}
		want, werr := DecodeAs(raw, kind)
		if (err == nil) != (werr == nil) || (err != nil && err.Error() != werr.Error() && kind != "Pod") {
			t.Errorf("Decode error %v, DecodeAs(%s) error %v: %.200s", err, kind, werr, raw)
			continue
		}
		if err != nil {
			continue
		}
		kinds[got.Kind]++
		if diff := cmp.Diff(want, got, cmp.AllowUnexported(Object{})); diff != "" {
			t.Errorf("Decode differs from DecodeAs(%s) (-DecodeAs +Decode):\n%s", kind, diff)
		}
	}
	if kinds["Pod"] < 10 || len(kinds) < 3 {
		t.Errorf("kinds decoded: %v", kinds)
	}
}
