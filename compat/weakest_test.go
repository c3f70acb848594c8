package compat_test

import (
	"testing"

	"github.com/sidecarkit/sidecarkit/compat"
)

// TestWeakestOrder: Weakest picks, field by field, the weaker of every
// pair of values, in either order: kubelets native < strips < unknown <
// rejects; ordered termination supported < unknown < unsupported; API
// servers stores < unknown < drops < unknown field.
func TestWeakestOrder(t *testing.T) {
	kubelets := []compat.Kubelet{compat.KubeletNative, compat.KubeletStrips, compat.KubeletUnknown, compat.KubeletRejects}
	supports := []compat.Support{compat.Supported, compat.Unknown, compat.Unsupported}
	apis := []compat.APIServer{compat.APIServerStores, compat.APIServerUnknown, compat.APIServerDrops, compat.APIServerUnknownField}
	for i, a := range kubelets {
		for j, b := range kubelets {
			want := kubelets[maxInt(i, j)]
			if got := compat.Weakest(compat.Capability{Kubelet: a}, compat.Capability{Kubelet: b}).Kubelet; got != want {
				t.Errorf("Weakest(%v, %v).Kubelet = %v, want %v", a, b, got, want)
			}
		}
	}
	for i, a := range supports {
		for j, b := range supports {
			want := supports[maxInt(i, j)]
			if got := compat.Weakest(compat.Capability{OrderedTermination: a}, compat.Capability{OrderedTermination: b}).OrderedTermination; got != want {
				t.Errorf("Weakest(%v, %v).OrderedTermination = %v, want %v", a, b, got, want)
			}
		}
	}
	for i, a := range apis {
		for j, b := range apis {
			want := apis[maxInt(i, j)]
			if got := compat.Weakest(compat.Capability{APIServer: a}, compat.Capability{APIServer: b}).APIServer; got != want {
				t.Errorf("Weakest(%v, %v).APIServer = %v, want %v", a, b, got, want)
			}
		}
	}
}

func maxInt(a, b int) int {
	if a > b {
		return a
	}
	return b
}
