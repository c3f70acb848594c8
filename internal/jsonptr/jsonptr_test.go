package jsonptr

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestEscapeRoundTrip(t *testing.T) {
	tests := []struct {
		name, token, want string
	}{
		{name: "plain", token: "containers", want: "containers"},
		{name: "slash", token: "sidecarkit.io/injected", want: "sidecarkit.io~1injected"},
		{name: "tilde", token: "a~b", want: "a~0b"},
		{name: "tilde before one", token: "~1", want: "~01"},
		{name: "both", token: "~/~/", want: "~0~1~0~1"},
		{name: "empty", token: "", want: ""},
	}
	for _, tc := range tests {
		if got := Escape(tc.token); got != tc.want {
			t.Errorf("%s: Escape(%q) = %q, want %q", tc.name, tc.token, got, tc.want)
		}
		if got := Unescape(tc.want); got != tc.token {
			t.Errorf("%s: Unescape(%q) = %q, want %q", tc.name, tc.want, got, tc.token)
		}
	}
}

func TestJoinSplit(t *testing.T) {
	tokens := []string{"metadata", "annotations", "a/b~c", ""}
	ptr := Join(tokens...)
	if want := "/metadata/annotations/a~1b~0c/"; ptr != want {
		t.Fatalf("Join = %q, want %q", ptr, want)
	}
	got, ok := Split(ptr)
	if !ok {
		t.Fatalf("Split(%q) not ok", ptr)
	}
	if diff := cmp.Diff(tokens, got); diff != "" {
		t.Errorf("Split mismatch (-want +got):\n%s", diff)
	}
	if _, ok := Split("spec"); ok {
		t.Errorf("Split without leading slash: want not ok")
	}
	if got, ok := Split(""); !ok || got != nil {
		t.Errorf(`Split("") = %v, %v; want nil, true`, got, ok)
	}
}
