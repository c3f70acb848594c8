package node

import (
	"os"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// These tests need no root and no kubelet.

func TestMinorOf(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int
		ok   bool
	}{
		{"v1.37.2", 37, true},
		{"1.27.16", 27, true},
		{"v2.0.0", 0, false},
		{"v1", 0, false},
		{"v1.x.0", 0, false},
	} {
		got, err := minorOf(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("minorOf(%q) = %d, %v; want %d, ok=%t", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestContainerLogOrdersInstancesAndStripsTheCRIPrefix(t *testing.T) {
	n := &Node{PodLogs: t.TempDir()}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "p", UID: "u1"}}
	dir := filepath.Join(n.PodLogs, "ns_p_u1", "proxy")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"0.log":  "2026-11-26T23:25:38.643925078Z stderr F first\n",
		"10.log": "2026-11-26T23:25:40.000000001Z stdout F tenth has spaces\n",
		"2.log":  "2026-11-26T23:25:39.5Z stdout P part\n2026-11-26T23:25:39.6Z stdout F ial\n",
		"x.txt":  "ignored\n",
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := n.ContainerLog(pod, "proxy")
	if err != nil {
		t.Fatal(err)
	}
	want := "[0.log 23:25:38.643] first\n" +
		"[2.log 23:25:39.500] part\n" +
		"[2.log 23:25:39.600] ial\n" +
		"[10.log 23:25:40.000] tenth has spaces\n"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if _, err := n.ContainerLog(pod, "absent"); err == nil {
		t.Error("want an error for a container without logs")
	}
}
