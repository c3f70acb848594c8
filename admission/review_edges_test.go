package admission_test

import (
	"context"
	"strings"
	"testing"

	"github.com/sidecarkit/sidecarkit/admission"
)

// TestBoundWarningsEdges: each limit at, and one past, its edge: the
// number of warnings, a warning's runes (of 1 and of 4 bytes), and a
// clean list comes back as it is.
func TestBoundWarningsEdges(t *testing.T) {
	many := func(n int) []string {
		ws := make([]string, n)
		for i := range ws {
			ws[i] = "w" + strings.Repeat("x", i)
		}
		return ws
	}
	if got := admission.BoundWarnings(nil); got != nil {
		t.Errorf("nil: %q", got)
	}
	at := many(admission.MaxWarnings)
	if got := admission.BoundWarnings(at); len(got) != admission.MaxWarnings || &got[0] != &at[0] {
		t.Errorf("%d warnings: %d back, or a copy", admission.MaxWarnings, len(got))
	}
	over := many(admission.MaxWarnings + 1)
	if got := admission.BoundWarnings(over); len(got) != admission.MaxWarnings || got[admission.MaxWarnings-1] != over[admission.MaxWarnings-1] {
		t.Errorf("%d warnings: %d back", admission.MaxWarnings+1, len(got))
	}
	for _, c := range []struct {
		name string
		w    string
		want string
	}{
		{"ASCII at the limit", strings.Repeat("a", admission.MaxWarningLength), strings.Repeat("a", admission.MaxWarningLength)},
		{"ASCII past the limit", strings.Repeat("a", admission.MaxWarningLength+1), strings.Repeat("a", admission.MaxWarningLength)},
		{"4-byte runes at the limit", strings.Repeat("😀", admission.MaxWarningLength), strings.Repeat("😀", admission.MaxWarningLength)},
		{"4-byte runes past the limit", strings.Repeat("😀", admission.MaxWarningLength+1), strings.Repeat("😀", admission.MaxWarningLength)},
		{"a control character", "a\nb", "a b"},
		{"invalid UTF-8", "a\xffb", "a b"},
	} {
		got := admission.BoundWarnings([]string{c.w})
		if len(got) != 1 || got[0] != c.want {
			t.Errorf("%s: %q", c.name, got)
		}
	}
}

// TestSkippedKindReason: the reason names the kind with its group, and
// core kinds without one.
func TestSkippedKindReason(t *testing.T) {
	inj := envelopeInjector(t)
	for _, c := range []struct{ group, version, kind, want string }{
		{"", "v1", "Service", "kind v1/Service is not mutated"},
		{"apps", "v1", "Deployment", "kind apps/v1/Deployment is not mutated"},
	} {
		body := strings.Replace(envelopeBody, `"kind":{"group":"","version":"v1","kind":"Pod"}`,
			`"kind":{"group":"`+c.group+`","version":"`+c.version+`","kind":"`+c.kind+`"}`, 1)
		_, out, err := inj.Review(context.Background(), []byte(body))
		if err != nil {
			t.Fatal(err)
		}
		if out.Skipped != admission.SkipKind || out.Reason != c.want {
			t.Errorf("%s: skipped %q, reason %q; want %q", c.kind, out.Skipped, out.Reason, c.want)
		}
	}
}
