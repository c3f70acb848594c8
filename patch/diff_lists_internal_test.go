package patch

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// TestDiffListShortcuts: the shortcuts for keyed lists (same keys, elements
// added at one end) give what keyed gives, for every list of up to six
// containers and every way of adding, removing, reordering and changing
// them.
func TestDiffListShortcuts(t *testing.T) {
	names := []string{"a", "b", "c", "d", "e", "f", "", "a"}
	mk := func(idx []int, img string) []corev1.Container {
		l := make([]corev1.Container, len(idx))
		for i, x := range idx {
			l[i] = corev1.Container{Name: names[x], Image: img + names[x]}
		}
		return l
	}
	n := nodeOf(reflect.TypeOf([]corev1.Container(nil)))
	key := nodeOf(reflect.TypeOf(corev1.PodSpec{})).fields[1].key // initContainers
	if len(key) != 1 {
		t.Fatal("no merge key for containers")
	}
	cases := [][2][]int{}
	lists := [][]int{{0}, {0, 1}, {0, 1, 2}, {1, 0}, {0, 1, 2, 3, 4, 5}, {6}, {0, 7}, {0, 6, 1}, {2, 0, 1}, {5, 4, 3, 2, 1, 0}, {3, 4, 5, 0, 1, 2}}
	for _, a := range lists {
		for _, b := range lists {
			cases = append(cases, [2][]int{a, b})
		}
		// a with elements added at its end and front
		cases = append(cases, [2][]int{a, append(append([]int{}, a...), 5)}, [2][]int{a, append([]int{5}, a...)})
	}
	shortcuts := 0
	for _, c := range cases {
		for _, img := range []string{"x", "y"} {
			a, b := mk(c[0], "x"), mk(c[1], img)
			va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
			var got []relOp
			d := differ{out: &got}
			d.slices(va, vb, n, key)
			var want []relOp
			ka, kb := listKeys(va, key), listKeys(vb, key)
			if ka == nil || kb == nil || len(ka) == 0 || len(kb) == 0 {
				continue // indexed or whole: no shortcut applies
			}
			if _, ok := grownKeys(va, vb, key); ok || sameKeys(va, vb, key) {
				shortcuts++
			}
			w := differ{out: &want}
			w.keyed(va, vb, n.elem, ka, kb)
			if d.err != nil || w.err != nil || !reflect.DeepEqual(got, want) {
				t.Errorf("%v -> %v (%s): got %v (%v), keyed gives %v (%v)", c[0], c[1], img, got, d.err, want, w.err)
			}
		}
	}
	if shortcuts < 20 {
		t.Errorf("only %d cases took a shortcut", shortcuts)
	}
}
