package patchtest_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/sidecarkit/sidecarkit/patch"
	"github.com/sidecarkit/sidecarkit/patch/patchtest"
)

// schemaKinds are the kinds package patch decodes besides Pod.
var schemaKinds = []string{"CronJob", "DaemonSet", "Deployment", "Job", "PodTemplate", "ReplicaSet", "ReplicationController", "StatefulSet"}

// The -update flag a user's test package defines; Golden reads it.
var update = flag.Bool("update", false, "rewrite golden files")

// Generate gives, for every kind, a document that package patch decodes as
// that kind, the same for the same input; an unknown kind is an error.
func TestGenerate(t *testing.T) {
	for _, kind := range append([]string{"", "Pod"}, schemaKinds...) {
		for _, data := range [][]byte{nil, []byte("x"), bytes.Repeat([]byte{0xa5, 0x3c, 0x00, 0xff}, 64)} {
			a, err := patchtest.Generate(data, kind)
			if err != nil {
				t.Fatalf("%q: %v", kind, err)
			}
			b, _ := patchtest.Generate(data, kind)
			if !bytes.Equal(a, b) {
				t.Errorf("%q: not deterministic", kind)
			}
			obj, err := patch.Decode(a)
			if err != nil {
				t.Fatalf("%q: %v\n%s", kind, err, a)
			}
			if want := kind; want != "" && obj.Kind != want {
				t.Errorf("kind %q decoded as %q", want, obj.Kind)
			}
		}
	}
	if _, err := patchtest.Generate(nil, "Service"); err == nil {
		t.Error("Generate(Service): no error")
	}
}

// Golden reports a difference, and with -update writes the file instead.
func TestGoldenUpdate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "x.golden")
	r := &recorder{}
	patchtest.Golden(r, path, []byte("one"))
	if !r.failed {
		t.Error("a missing golden file did not fail")
	}
	if err := flag.Set("update", "true"); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = flag.Set("update", "false") }()
	patchtest.Golden(t, path, []byte("one"))
	if b, err := os.ReadFile(path); err != nil || string(b) != "one" {
		t.Fatalf("after -update: %q, %v", b, err)
	}
	_ = flag.Set("update", "false")
	r = &recorder{}
	patchtest.Golden(r, path, []byte("one"))
	if r.failed {
		t.Error("an equal golden file failed")
	}
	r = &recorder{}
	patchtest.Golden(r, path, []byte("two"))
	if !r.failed {
		t.Error("a different golden file did not fail")
	}
	_ = update
}
