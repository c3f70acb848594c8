package internal_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// readmeSnippet says how the README's n-th Go block compiles: the
// variables it uses without declaring them (earlier blocks or the reader's
// code declare them), as function parameters, and what it leaves unused.
type readmeSnippet struct {
	params string // the wrapping function's parameters
	after  string // statements after the block (uses of what it declares)
}

// readmeSnippets are the README's Go blocks, in order. A block added,
// removed or changed so that it no longer compiles fails
// TestREADMEGoSnippets: update this table with the README.
var readmeSnippets = []readmeSnippet{
	{ // the tour
		params: "ctx context.Context, raw []byte, req *admissionv1.AdmissionRequest, sidecarYAML []byte, serverVersion string, nodes []corev1.Node",
		after:  "_ = ops",
	},
	{ // choosing the mode
		params: "metrics io.Reader, nodes []corev1.Node",
	},
	{ // the universal pair
		params: "ctx context.Context, injector *sidecar.Injector, obj *patch.Object, capability compat.Capability",
		after:  "_, _ = res, err",
	},
	{ // a webhook server
		params: "spec sidecar.Spec, cluster compat.Cluster",
	},
}

var goBlock = regexp.MustCompile("(?s)\n```go\n(.*?)\n```")

// TestREADMEGoSnippets compiles the README's Go blocks, each wrapped in a
// function of its own (go vet with an overlay: nothing is written into
// the tree), so that the code a newcomer copies from the README builds
// against today's API.
func TestREADMEGoSnippets(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the package with go vet")
	}
	readme, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks := goBlock.FindAllStringSubmatch(string(readme), -1)
	if len(blocks) != len(readmeSnippets) {
		t.Fatalf("README.md has %d Go blocks, readmeSnippets describes %d: update the table", len(blocks), len(readmeSnippets))
	}
	var src strings.Builder
	src.WriteString(`package internal

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/sidecarkit/sidecarkit/admission"
	"github.com/sidecarkit/sidecarkit/compat"
	"github.com/sidecarkit/sidecarkit/patch"
	"github.com/sidecarkit/sidecarkit/sidecar"
	"github.com/sidecarkit/sidecarkit/universal"
)

var (
	_ = context.Background
	_ = fmt.Println
	_ io.Reader
	_ = log.Printf
	_ = http.Handle
	_ *admissionv1.AdmissionRequest
	_ corev1.Node
	_ = admission.New
	_ compat.Capability
	_ *patch.Object
	_ sidecar.Spec
	_ universal.Planner
)
`)
	for i, b := range blocks {
		fmt.Fprintf(&src, "\n// README.md's Go block %d.\nfunc readmeSnippet%d(%s) error {\n%s\n%s\nreturn nil\n}\n", i+1, i+1, readmeSnippets[i].params, b[1], readmeSnippets[i].after)
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "readme_snippets.go")
	if err := os.WriteFile(file, []byte(src.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	abs, err := filepath.Abs("zz_readme_snippets.go")
	if err != nil {
		t.Fatal(err)
	}
	overlay, _ := json.Marshal(map[string]map[string]string{"Replace": {abs: file}})
	ov := filepath.Join(dir, "overlay.json")
	if err := os.WriteFile(ov, overlay, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "vet", "-overlay", ov, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the README's Go blocks do not compile (%v):\n%s\nthe file compiled:\n%s", err, out, numbered(src.String()))
	}
}

// numbered prefixes each line of s with its number.
func numbered(s string) string {
	lines := strings.Split(s, "\n")
	for i := range lines {
		lines[i] = fmt.Sprintf("%4d  %s", i+1, lines[i])
	}
	return strings.Join(lines, "\n")
}
