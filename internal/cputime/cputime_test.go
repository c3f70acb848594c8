package cputime

import "testing"

// TestProcessAdvances: busy work adds CPU time.
func TestProcessAdvances(t *testing.T) {
	before, ok := Process()
	if !ok {
		t.Skip("no CPU time on this platform")
	}
	x := 0
	for i := 0; i < 50_000_000; i++ {
		x ^= i * i
	}
	after, _ := Process()
	if after <= before {
		t.Errorf("CPU time went from %v to %v over busy work (%d)", before, after, x)
	}
}
