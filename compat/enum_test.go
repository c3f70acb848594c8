package compat_test

import (
	"testing"

	"github.com/sidecarkit/sidecarkit/compat"
)

// TestEnumText checks String, Description and the text round trip of every
// enum, including values out of range, which must not panic.
func TestEnumText(t *testing.T) {
	type enum interface {
		String() string
		MarshalText() ([]byte, error)
	}
	tests := []struct {
		name string
		v    enum
		want string
		bad  bool
	}{
		{name: "support-zero", v: compat.Unknown, want: "unknown"},
		{name: "support", v: compat.Supported, want: "supported"},
		{name: "support-bad", v: compat.Support(7), want: "Support(7)", bad: true},
		{name: "kubelet", v: compat.KubeletRejects, want: "rejects"},
		{name: "kubelet-bad", v: compat.Kubelet(-1), want: "Kubelet(-1)", bad: true},
		{name: "apiserver", v: compat.APIServerUnknownField, want: "unknown-field"},
		{name: "apiserver-bad", v: compat.APIServer(4), want: "APIServer(4)", bad: true},
		{name: "severity", v: compat.SeverityError, want: "error"},
		{name: "severity-bad", v: compat.Severity(3), want: "Severity(3)", bad: true},
	}
	for _, tc := range tests {
		tc := tc
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.v.String(); got != tc.want {
				t.Errorf("String() = %q, want %q", got, tc.want)
			}
			b, err := tc.v.MarshalText()
			if tc.bad {
				if err == nil {
					t.Errorf("MarshalText() = %q, want an error", b)
				}
				return
			}
			if err != nil || string(b) != tc.want {
				t.Errorf("MarshalText() = %q, %v; want %q", b, err, tc.want)
			}
		})
	}
	for k := compat.KubeletUnknown; k <= compat.KubeletRejects; k++ {
		if k.Description() == "" {
			t.Errorf("%v has no description", k)
		}
	}
	for a := compat.APIServerUnknown; a <= compat.APIServerUnknownField; a++ {
		if a.Description() == "" {
			t.Errorf("%v has no description", a)
		}
	}
}
