package compat_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sidecarkit/sidecarkit/compat"
)

// versionCases covers every kubeletVersion shape of docs/capability.md#versions
// plus garbage. Only major.minor counts.
var versionCases = []struct {
	name    string
	in      string
	kubelet compat.Kubelet
	ordered compat.Support
	api     compat.APIServer
	wantErr bool
	reason  string
}{
	{name: "upstream", in: "v1.29.3", kubelet: compat.KubeletNative, ordered: compat.Supported, api: compat.APIServerStores},
	{name: "eks", in: "v1.29.3-eks-ae9a62a", kubelet: compat.KubeletNative, ordered: compat.Supported, api: compat.APIServerStores,
		reason: "ParseSemantic would rank this below v1.29.0; ParseGeneric ignores the suffix"},
	{name: "eks-x.0", in: "v1.29.0-eks-x", kubelet: compat.KubeletNative, ordered: compat.Supported, api: compat.APIServerStores,
		reason: "the exact pitfall of docs/capability.md#versions: a pre-release of the first 1.29 patch"},
	{name: "gke", in: "v1.29.4-gke.1043002", kubelet: compat.KubeletNative, ordered: compat.Supported, api: compat.APIServerStores},
	{name: "aks-plain", in: "v1.29.4", kubelet: compat.KubeletNative, ordered: compat.Supported, api: compat.APIServerStores},
	{name: "aks-suffix", in: "v1.29.4-aks-a1b2c3", kubelet: compat.KubeletNative, ordered: compat.Supported, api: compat.APIServerStores,
		reason: "unverified third-party form; accepted anyway"},
	{name: "k3s", in: "v1.29.4+k3s1", kubelet: compat.KubeletNative, ordered: compat.Supported, api: compat.APIServerStores},
	{name: "rke2", in: "v1.29.4+rke2r1", kubelet: compat.KubeletNative, ordered: compat.Supported, api: compat.APIServerStores},
	{name: "k0s-1.28", in: "v1.28.4+k0s.0", kubelet: compat.KubeletRejects, ordered: compat.Unsupported, api: compat.APIServerDrops,
		reason: "1.28: the gate is alpha and off by default"},
	{name: "microk8s", in: "v1.29.4+microk8s1", kubelet: compat.KubeletNative, ordered: compat.Supported, api: compat.APIServerStores},
	{name: "openshift", in: "v1.29.5+a0b1c2d", kubelet: compat.KubeletNative, ordered: compat.Supported, api: compat.APIServerStores},
	{name: "openshift-long-sha", in: "v1.27.6+f67aeb3", kubelet: compat.KubeletStrips, ordered: compat.Unsupported, api: compat.APIServerUnknownField},
	{name: "no-v", in: "1.30.1", kubelet: compat.KubeletNative, ordered: compat.Supported, api: compat.APIServerStores},
	{name: "major-minor-only", in: "v1.31", kubelet: compat.KubeletNative, ordered: compat.Supported, api: compat.APIServerStores},
	{name: "spaces", in: " v1.30.2 ", kubelet: compat.KubeletNative, ordered: compat.Supported, api: compat.APIServerStores,
		reason: "ParseGeneric trims surrounding whitespace"},
	{name: "1.26", in: "v1.26.15", kubelet: compat.KubeletStrips, ordered: compat.Unsupported, api: compat.APIServerUnknownField},
	{name: "1.27", in: "v1.27.16", kubelet: compat.KubeletStrips, ordered: compat.Unsupported, api: compat.APIServerUnknownField},
	{name: "1.28.0", in: "v1.28.0", kubelet: compat.KubeletRejects, ordered: compat.Unsupported, api: compat.APIServerDrops},
	{name: "1.32", in: "v1.32.13", kubelet: compat.KubeletNative, ordered: compat.Supported, api: compat.APIServerStores},
	{name: "1.33-ga", in: "v1.33.0", kubelet: compat.KubeletNative, ordered: compat.Supported, api: compat.APIServerStores},
	{name: "1.37-removed", in: "v1.37.2", kubelet: compat.KubeletNative, ordered: compat.Supported, api: compat.APIServerStores},
	{name: "future", in: "v1.99.0", kubelet: compat.KubeletNative, ordered: compat.Supported, api: compat.APIServerStores,
		reason: "later minors keep sidecars"},
	{name: "ancient", in: "v1.0.0", kubelet: compat.KubeletStrips, ordered: compat.Unsupported, api: compat.APIServerUnknownField},
	{name: "four-components", in: "v1.30.1.2", kubelet: compat.KubeletNative, ordered: compat.Supported, api: compat.APIServerStores},
	{name: "empty", in: "", wantErr: true},
	{name: "garbage", in: "garbage", wantErr: true},
	{name: "v-only", in: "v", wantErr: true},
	{name: "double-v", in: "vv1.29.0", wantErr: true},
	{name: "capital-v", in: "V1.29.0", wantErr: true, reason: "ParseGeneric accepts a lower-case v only"},
	{name: "one-component", in: "v1", wantErr: true},
	{name: "major-2", in: "v2.0.0", wantErr: true, reason: "not a Kubernetes 1.x release"},
	{name: "major-0", in: "v0.29.0", wantErr: true, reason: "not a Kubernetes 1.x release"},
	{name: "zero-prefixed-major", in: "v01.29.0", wantErr: true},
	{name: "minor-overflow", in: "v1.99999999999999999999999", wantErr: true},
	{name: "minor-not-number", in: "v1.x", wantErr: true},
	{name: "prefix-text", in: "kubelet v1.29.0", wantErr: true},
}

func TestParseKubeletVersion(t *testing.T) {
	for _, tc := range versionCases {
		tc := tc
		t.Run(tc.name, func(t *testing.T) {
			got, err := compat.ParseKubeletVersion(tc.in)
			checkVersionErr(t, tc.in, err, tc.wantErr)
			want := compat.Capability{Kubelet: tc.kubelet, OrderedTermination: tc.ordered}
			if diff := cmp.Diff(want, withoutEvidence(got)); diff != "" {
				t.Errorf("ParseKubeletVersion(%q) (-want +got):\n%s", tc.in, diff)
			}
			checkEvidence(t, got, "kubelet-version", "kubelet", tc.in)
		})
	}
}

func TestParseAPIServerVersion(t *testing.T) {
	for _, tc := range versionCases {
		tc := tc
		t.Run(tc.name, func(t *testing.T) {
			got, err := compat.ParseAPIServerVersion(tc.in)
			checkVersionErr(t, tc.in, err, tc.wantErr)
			want := compat.Capability{APIServer: tc.api}
			if diff := cmp.Diff(want, withoutEvidence(got)); diff != "" {
				t.Errorf("ParseAPIServerVersion(%q) (-want +got):\n%s", tc.in, diff)
			}
			checkEvidence(t, got, "apiserver-version", "kube-apiserver", tc.in)
		})
	}
}

func checkVersionErr(t *testing.T, in string, err error, wantErr bool) {
	t.Helper()
	if (err != nil) != wantErr {
		t.Fatalf("version %q: error %v, want error %v", in, err, wantErr)
	}
	if err != nil && (!strings.HasPrefix(err.Error(), "compat: ") || strings.Count(err.Error(), "compat: ") != 1) {
		t.Errorf("error %q should carry the compat: prefix exactly once", err)
	}
	if err != nil && !strings.Contains(err.Error(), strconvQuote(in)) {
		t.Errorf("error %q does not quote the input", err)
	}
}

// checkEvidence checks that a detector always says why, even on failure.
func checkEvidence(t *testing.T, c compat.Capability, src string, subject, in string) {
	t.Helper()
	if len(c.Evidence) != 1 {
		t.Fatalf("evidence %v, want exactly one entry", c.Evidence)
	}
	e := c.Evidence[0]
	if e.Source != src || e.Subject != subject || !strings.Contains(e.Detail, strconvQuote(in)) {
		t.Errorf("evidence %+v, want source %q, subject %q and the quoted input", e, src, subject)
	}
}

func withoutEvidence(c compat.Capability) compat.Capability {
	c.Evidence = nil
	return c
}
