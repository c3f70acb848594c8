package handshake_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/sidecarkit/sidecarkit/universal/handshake"
)

// A usage error exits 2 and says what was wrong, followed by Usage.
func TestMainUsageError(t *testing.T) {
	var stderr bytes.Buffer
	if code := handshake.Main([]string{"dance"}, nil, &stderr); code != 2 {
		t.Errorf("exit code %d, want 2", code)
	}
	if !strings.Contains(stderr.String(), "dance") || !strings.Contains(stderr.String(), handshake.Usage) {
		t.Errorf("stderr %q does not name the bad command and the usage", stderr.String())
	}
}

// ExitIdentity is documented as 3 (docs/universal.md), and Jobs' Pod
// failure policies may name it: it must not change.
func TestExitIdentityIsStable(t *testing.T) {
	if handshake.ExitIdentity != 3 {
		t.Errorf("ExitIdentity = %d, want the documented 3", handshake.ExitIdentity)
	}
}
