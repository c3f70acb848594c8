package bench_test

import (
	"context"
	"testing"
	"time"

	"github.com/sidecarkit/sidecarkit/bench"
)

// TestLoadSmoke runs a tiny, bounded load test on loopback, over plain
// HTTP and over TLS: both routes answer every request.
func TestLoadSmoke(t *testing.T) {
	ins, err := bench.Inputs()
	if err != nil {
		t.Fatal(err)
	}
	for _, tls := range []bool{false, true} {
		res, err := bench.Load(context.Background(), ins[1].Review, bench.LoadOptions{Duration: 2 * time.Second, Rounds: 1, Concurrency: 2, MaxRequests: 20, TLS: tls})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res {
			if r.Requests != 20 || r.Errors != 0 {
				t.Errorf("TLS %v, %s: %d requests, %d errors; want 20 and 0", tls, r.Route, r.Requests, r.Errors)
			}
		}
	}
}
