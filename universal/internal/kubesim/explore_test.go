package kubesim

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// TestDeepCorners explores, with the production protocol, small
// configurations beyond TestSimulation's default depth where the deep
// check once reported a violation, so that they stay checked by every
// go test run. The first two are a failed startup probe (no identity, so
// no ack) before a legacy claim that no twin could tell from an old
// node's: the model counted the failed probe as a proof of a native node.
// The others put one fault into the legacy twin's handover after an
// in-place upgrade (the second covers it after an emptied directory).
func TestDeepCorners(t *testing.T) {
	cases := []struct {
		name string
		cfg  Config
	}{
		{
			name: "upgrade/failed-probe-before-a-legacy-claim",
			cfg:  Config{Kind: Strip, RestartPolicy: corev1.RestartPolicyNever, ExtraInit: true, Upgrade: true, To: Native, Faults: 1, IdentityFaults: true},
		},
		{
			name: "lost-directory/failed-probe-before-a-legacy-claim",
			cfg:  Config{Kind: Native128, RestartPolicy: corev1.RestartPolicyOnFailure, Recreations: 1, Losses: 1, Faults: 1, IdentityFaults: true},
		},
		// The handover with a fault (a crash, a probe kill or an identity
		// read failure at any step), which the default depth explores
		// without faults in the upgrade family (the case above covers
		// the lost-directory family's handover).
		{
			name: "upgrade/handover-with-a-fault/always",
			cfg:  Config{Kind: Strip, Upgrade: true, To: Native, Faults: 1, IdentityFaults: true, Delete: true},
		},
		{
			name: "upgrade/handover-with-a-fault/never",
			cfg:  Config{Kind: Strip, RestartPolicy: corev1.RestartPolicyNever, Upgrade: true, To: Native, Faults: 1, IdentityFaults: true, Delete: true},
		},
		{
			name: "upgrade/handover-with-a-fault/onfailure-1.28",
			cfg:  Config{Kind: Strip, RestartPolicy: corev1.RestartPolicyOnFailure, Upgrade: true, To: Native128, Faults: 1, IdentityFaults: true, Delete: true},
		},
	}
	for _, tc := range cases {
		tc := tc
		t.Run(tc.name, func(t *testing.T) {
			res, err := Explore(tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range res.Violations {
				t.Errorf("%s: %s", tc.cfg, v)
			}
			if res.States == 0 {
				t.Errorf("%s: nothing explored", tc.cfg)
			}
			t.Logf("%s: %d states", tc.cfg, res.States)
		})
	}
}
