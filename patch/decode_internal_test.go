package patch

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sidecarkit/sidecarkit/internal/podgen"
)

// TestDecodeOnePass: the one-pass decoding of Pods gives what the two-pass
// decoding gives, on every document of the repository's testdata and on
// generated documents of every kind; for other kinds it declines.
func TestDecodeOnePass(t *testing.T) {
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
	docs = append(docs, []byte(`{"spec":null}`), []byte(`{"kind":"Pod"}`), []byte(`{"spec":{"template":"x","containers":[]}}`), []byte(`[]`), []byte(`{"kind":"Widget","spec":{}}`))
	pods := 0
	for _, raw := range docs {
		two, err := decodeTwoPass(raw)
		one, ok := decodeOnePass(raw)
		if !ok {
			if err == nil && two.Kind == "Pod" {
				t.Errorf("one pass declined a Pod that two passes decode: %.200s", raw)
			}
			continue
		}
		pods++
		if err != nil {
			t.Errorf("one pass decoded what two passes reject (%v): %.200s", err, raw)
			continue
		}
		if diff := cmp.Diff(two, one); diff != "" {
			t.Errorf("one pass differs (-two +one):\n%s", diff)
		}
	}
	if pods < 10 {
		t.Errorf("only %d Pods among %d documents", pods, len(docs))
	}
}
