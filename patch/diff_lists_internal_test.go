package patch

import (
	"reflect"
	"strconv"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// TestDiffListShortcuts: the shortcuts for keyed lists (same keys, elements
// added at one end) give what keyed gives, for pairs of container lists
// of up to 22 elements (reordered, grown, shrunk, with an empty or a
// repeated name) with changed fields or not.
func TestDiffListShortcuts(t *testing.T) {
	// Names 0 to 39, then an empty name (40) and a second "n0" (41).
	names := make([]string, 42)
	for i := 0; i < 40; i++ {
		names[i] = "n" + strconv.Itoa(i)
	}
	names[41] = "n0"
	seq := func(from, to int) []int {
		var l []int
		for i := from; i < to; i++ {
			l = append(l, i)
		}
		return l
	}
	rev := func(l []int) []int {
		r := make([]int, len(l))
		for i, x := range l {
			r[len(l)-1-i] = x
		}
		return r
	}
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
	lists := [][]int{{0}, {0, 1}, {0, 1, 2}, {1, 0}, {0, 1, 2, 3, 4, 5}, {40}, {0, 41}, {0, 40, 1}, {2, 0, 1}, {5, 4, 3, 2, 1, 0}, {3, 4, 5, 0, 1, 2},
		// Longer than 16: distinct keys are then found by sorting.
		seq(0, 20), seq(1, 20), seq(0, 19), seq(2, 22), rev(seq(0, 20)), append(seq(0, 19), 41), append(seq(0, 19), 40), append(seq(1, 20), 0),
		seq(0, 17), seq(0, 16), append([]int{39}, seq(0, 20)...), append(seq(0, 20), 39)}
	for _, a := range lists {
		for _, b := range lists {
			cases = append(cases, [2][]int{a, b})
		}
		// a with elements added at its end and front, new or not
		for _, x := range []int{35, 36, 0, 41} {
			cases = append(cases, [2][]int{a, append(append([]int{}, a...), x)}, [2][]int{a, append([]int{x}, a...)},
				[2][]int{a, append(append([]int{x, 37}, a...), 38)})
		}
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
			// What slices did before the shortcuts: keyed when both
			// lists have valid distinct keys, else by index.
			w := differ{out: &want}
			if ka, kb := listKeys(va, key), listKeys(vb, key); ka != nil && kb != nil {
				w.keyed(va, vb, n.elem, ka, kb)
			} else {
				w.indexed(va, vb, n.elem)
			}
			if _, ok := d.grownKeys(va, vb, key); ok || d.sameKeys(va, vb, key) {
				shortcuts++
			}
			if d.err != nil || w.err != nil || !reflect.DeepEqual(got, want) {
				t.Errorf("%v -> %v (%s): got %v (%v), keyed or indexed gives %v (%v)", c[0], c[1], img, got, d.err, want, w.err)
			}
		}
	}
	if shortcuts < 60 {
		t.Errorf("only %d cases took a shortcut", shortcuts)
	}
}
