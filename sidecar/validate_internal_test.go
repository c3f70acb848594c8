package sidecar

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation"
)

// TestQuickNameChecks: the quick checks accept only what apimachinery's
// regular expressions accept, and portNameErrors returns exactly their
// messages.
func TestQuickNameChecks(t *testing.T) {
	names := []string{"", "a", "z", "0", "-", "a-", "-a", "a-b", "a--b", "ab9", "9ab", "99", "A", "aB", "a.b", "a_b",
		"proxy", "istio-proxy", "http", "metrics", "h2c", "p-1", "123456789012345", "a23456789012345", "a234567890123456",
		strings.Repeat("a", 63), strings.Repeat("a", 64), "é", "a b", "a\x00", "-" + strings.Repeat("a", 10)}
	for i := 0; i < 300; i++ { // every string of up to two characters from a small alphabet, and some of three
		const alpha = "a0-Z."
		s := string(alpha[i%5])
		if i >= 5 {
			s += string(alpha[(i/5)%5])
		}
		if i >= 25 {
			s += string(alpha[(i/25)%5])
		}
		names = append(names, s)
	}
	for _, n := range names {
		if isDNS1123Label(n) && len(validation.IsDNS1123Label(n)) > 0 {
			t.Errorf("isDNS1123Label(%q) accepts what IsDNS1123Label rejects", n)
		}
		if !isDNS1123Label(n) && len(validation.IsDNS1123Label(n)) == 0 {
			t.Errorf("isDNS1123Label(%q) rejects a valid label", n)
		}
		got, want := portNameErrors(n), validation.IsValidPortName(n)
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("portNameErrors(%q) = %q, want %q", n, got, want)
		}
	}
}
