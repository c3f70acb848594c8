package compat_test

import (
	"flag"
	"testing"

	"github.com/sidecarkit/sidecarkit/internal/golden"
)

var update = flag.Bool("update", false, "rewrite golden files")

// checkGolden compares got with the golden file at path, or rewrites the
// file when -update is set.
func checkGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	golden.Check(t, *update, path, got)
}
