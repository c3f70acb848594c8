package patch

import (
	"math/rand"
	"reflect"
	"testing"
)

// referenceMoves is the list rebuild sortingMoves replaced, quadratic in
// the number of moves: take the elements outside a longest increasing
// subsequence in their final order, and put each right after the last
// placed element that precedes it.
func referenceMoves(seq []int) []move {
	cur := make([]int, len(seq)) // element indices, in their current order
	for i := range cur {
		cur[i] = i
	}
	placed := make([]bool, len(seq))
	for _, i := range longestIncreasing(seq) {
		placed[i] = true
	}
	order := make([]int, len(seq))
	copy(order, cur)
	for a := 1; a < len(order); a++ { // insertion sort by final place: a reference, kept simple
		for b := a; b > 0 && seq[order[b]] < seq[order[b-1]]; b-- {
			order[b], order[b-1] = order[b-1], order[b]
		}
	}
	var moves []move
	for _, e := range order {
		if placed[e] {
			continue
		}
		from := -1
		for i, x := range cur {
			if x == e {
				from = i
			}
		}
		cur = append(cur[:from:from], cur[from+1:]...)
		to := 0
		for i := len(cur) - 1; i >= 0; i-- {
			if placed[cur[i]] && seq[cur[i]] < seq[e] {
				to = i + 1
				break
			}
		}
		cur = append(cur[:to:to], append([]int{e}, cur[to:]...)...)
		placed[e] = true
		if from != to {
			moves = append(moves, move{from, to})
		}
	}
	return moves
}

// TestSortingMoves: sortingMoves gives exactly the moves of the list
// rebuild it replaced, and they sort the list, for permutations of every
// shape (sorted, reversed, rotated, random, with gaps in the final
// places).
func TestSortingMoves(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	var cases [][]int
	for _, n := range []int{0, 1, 2, 3, 5, 8, 17, 100, 400} {
		id := make([]int, n)
		for i := range id {
			id[i] = i
		}
		rev := make([]int, n)
		for i := range rev {
			rev[i] = n - 1 - i
		}
		rot := make([]int, n)
		for i := range rot {
			rot[i] = (i + 1) % n
		}
		cases = append(cases, id, rev, rot)
		for k := 0; k < 10; k++ {
			gaps := rng.Perm(2 * n)[:n] // distinct, with gaps
			cases = append(cases, rng.Perm(n), gaps)
		}
	}
	for _, seq := range cases {
		n := 0
		for _, j := range seq {
			if j >= n {
				n = j + 1
			}
		}
		got := sortingMoves(seq, n)
		if want := referenceMoves(seq); !reflect.DeepEqual(got, want) && (len(got) > 0 || len(want) > 0) {
			t.Fatalf("sortingMoves(%v) = %v, want %v", seq, got, want)
		}
		list := append([]int(nil), seq...)
		for _, mv := range got {
			v := list[mv.from]
			list = append(list[:mv.from], list[mv.from+1:]...)
			list = append(list[:mv.to], append([]int{v}, list[mv.to:]...)...)
		}
		for i := 1; i < len(list); i++ {
			if list[i-1] > list[i] {
				t.Fatalf("the moves of %v leave %v", seq, list)
			}
		}
		if min := len(seq) - len(longestIncreasing(seq)); len(got) > min {
			t.Fatalf("%d moves for %v, at most %d needed", len(got), seq, min)
		}
	}
}
