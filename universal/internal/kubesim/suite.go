package kubesim

import corev1 "k8s.io/api/core/v1"

// Family names a group of explorations of Suite.
type Family string

// The families of Suite; see there.
const (
	Classic Family = "classic"
	Restart Family = "kubelet-restart"
	Lost    Family = "lost-directory"
	Upgrade Family = "upgrade"
)

// Families lists the families of Suite, in its order.
func Families() []Family { return []Family{Classic, Restart, Lost, Upgrade} }

// Suite returns the explorations of the model check at depth d (d ≥ 0),
// for every node kind, Pod restartPolicy and Pod shape (with and without
// an ordinary init container after the native twin), every one with the
// Pod's deletion at any point, in four families (with e = max(d-1, 0)):
//
//   - Classic: at most d faults (crashes, probe kills, failures to read
//     the sandbox identity) and d+1 sandbox re-creations, with fresh or
//     reused identities;
//   - Restart: one kubelet restart (same version), at most e faults and
//     d re-creations;
//   - Lost: one re-creation that empties the handshake directory, at most
//     e faults and max(d, 1) re-creations;
//   - Upgrade: for every in-place kubelet upgrade of Upgrades(kind), at
//     most e faults and d re-creations.
//
// Depth 1, the default of TestSimulation, explores about 6.2 million
// states (half a minute on two cores); 0, under -short, about 0.6
// million; 2, the deep check, about 116 million (6 to 15 minutes, 8 GB;
// docs/universal.md).
func Suite(d int) []Config {
	e := d - 1
	if e < 0 {
		e = 0
	}
	lost := d
	if lost < 1 {
		lost = 1
	}
	var out []Config
	for _, f := range Families() {
		for _, kind := range Kinds() {
			for _, policy := range []corev1.RestartPolicy{corev1.RestartPolicyAlways, corev1.RestartPolicyOnFailure, corev1.RestartPolicyNever} {
				for _, extra := range []bool{false, true} {
					c := Config{Family: f, Kind: kind, RestartPolicy: policy, ExtraInit: extra, Delete: true}
					switch f {
					case Classic:
						c.Faults, c.Recreations, c.IdentityFaults = d, d+1, true
						out = append(out, c)
					case Restart:
						c.Faults, c.Recreations, c.KubeletRestarts, c.IdentityFaults = e, d, 1, true
						out = append(out, c)
					case Lost:
						c.Faults, c.Recreations, c.Losses, c.IdentityFaults = e, lost, 1, true
						out = append(out, c)
					case Upgrade:
						for _, to := range Upgrades(kind) {
							u := c
							u.Faults, u.Recreations, u.IdentityFaults, u.Upgrade, u.To = e, d, true, true, to
							out = append(out, u)
						}
					}
				}
			}
		}
	}
	return out
}
