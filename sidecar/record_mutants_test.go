package sidecar

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestRecordEqual: two records are equal when they record the same
// injection, whatever the reason; any other member tells them apart.
func TestRecordEqual(t *testing.T) {
	full := func() Record {
		return Record{Version: 2, Mode: Native, Reason: "all-native", Spec: "h",
			InitContainers: map[string]string{"proxy": "1"}, Containers: map[string]string{"proxy-legacy": "2"},
			Volumes: map[string]string{"v": "3"}, AppMounts: map[string]string{"/m": "4"}, AppEnv: map[string]string{"E": "5"},
			Resources: map[string][]string{"proxy": {"limits/memory", "requests/memory"}}, NodeRequirement: true}
	}
	a := full()
	for _, tc := range []struct {
		name  string
		edit  func(r *Record)
		equal bool
	}{
		{"same", func(*Record) {}, true},
		{"another reason", func(r *Record) { r.Reason = reasonRequested }, true},
		{"version", func(r *Record) { r.Version = 3 }, false},
		{"mode", func(r *Record) { r.Mode = Pinned }, false},
		{"spec", func(r *Record) { r.Spec = "g" }, false},
		{"node requirement", func(r *Record) { r.NodeRequirement = false }, false},
		{"init container digest", func(r *Record) { r.InitContainers["proxy"] = "0" }, false},
		{"init container name", func(r *Record) { r.InitContainers = map[string]string{"proxy-x": "1"} }, false},
		{"containers", func(r *Record) { r.Containers["proxy-2"] = "2" }, false},
		{"no containers", func(r *Record) { r.Containers = nil }, false},
		{"volumes", func(r *Record) { r.Volumes["v"] = "0" }, false},
		{"app mounts", func(r *Record) { r.AppMounts = map[string]string{"/n": "4"} }, false},
		{"app env", func(r *Record) { r.AppEnv["E"] = "0" }, false},
		{"resources: another list", func(r *Record) { r.Resources["proxy"] = []string{"limits/memory", "requests/cpu"} }, false},
		{"resources: a longer list", func(r *Record) { r.Resources["proxy"] = append(r.Resources["proxy"], "requests/cpu") }, false},
		{"resources: another container", func(r *Record) { r.Resources = map[string][]string{"proxy-x": {"limits/memory", "requests/memory"}} }, false},
		{"resources: one more container", func(r *Record) { r.Resources["proxy-x"] = nil }, false},
	} {
		b := full()
		tc.edit(&b)
		if got := a.equal(&b); got != tc.equal {
			t.Errorf("%s: a.equal(b) = %v, want %v", tc.name, got, tc.equal)
		}
		if got := b.equal(&a); got != tc.equal {
			t.Errorf("%s: b.equal(a) = %v, want %v", tc.name, got, tc.equal)
		}
	}
	var zero Record
	if !zero.equal(&Record{Resources: map[string][]string{}, Volumes: map[string]string{}}) {
		t.Error("empty and nil maps differ")
	}
}

// TestOwnedResources and claims read a record's members.
func TestRecordLookups(t *testing.T) {
	r := Record{InitContainers: map[string]string{"proxy": "1"}, Containers: map[string]string{"proxy-legacy": "2"},
		Resources: map[string][]string{"proxy": {"limits/memory", "requests/memory"}, "proxy-legacy": {}}}
	if got := r.ownedResources("proxy"); len(got) != 2 || !got["limits/memory"] || !got["requests/memory"] {
		t.Errorf("ownedResources(proxy) = %v", got)
	}
	if got := r.ownedResources("proxy-legacy"); got != nil {
		t.Errorf("ownedResources of an empty list = %v, want nil", got)
	}
	for _, tc := range []struct {
		name, digest string
		ok           bool
	}{{"proxy", "1", true}, {"proxy-legacy", "2", true}, {"proxy-install", "", false}} {
		if d, ok := r.claims(tc.name); d != tc.digest || ok != tc.ok {
			t.Errorf("claims(%s) = %q, %v; want %q, %v", tc.name, d, ok, tc.digest, tc.ok)
		}
	}
}

// TestOwnName: the sidecar's containers are its name or its name, a
// hyphen and a suffix.
func TestOwnName(t *testing.T) {
	for _, tc := range []struct {
		n  string
		ok bool
	}{
		{"proxy", true}, {"proxy-legacy", true}, {"proxy-x", true}, {"proxy-", false}, {"proxyx", false},
		{"prox", false}, {"", false}, {"istio-proxy", false}, {"proxy--", true}, {"xproxy-a", false},
	} {
		if got := ownName("proxy", tc.n); got != tc.ok {
			t.Errorf("ownName(proxy, %q) = %v, want %v", tc.n, got, tc.ok)
		}
	}
}

// TestExcerpt: a message quotes at most maxExcerpt bytes of user content,
// cut at a rune boundary.
func TestExcerpt(t *testing.T) {
	for _, tc := range []struct {
		name, s, want string
	}{
		{"short", "abc", "abc"},
		{"exactly the limit", strings.Repeat("a", 64), strings.Repeat("a", 64)},
		{"one byte more", strings.Repeat("a", 65), strings.Repeat("a", 64) + "..."},
		{"a rune across the limit", strings.Repeat("a", 63) + "é" + "b", strings.Repeat("a", 63) + "..."},
		{"a 4-byte rune across the limit", strings.Repeat("a", 62) + "😀" + "b", strings.Repeat("a", 62) + "..."},
		{"a rune at the limit", strings.Repeat("a", 64) + "é", strings.Repeat("a", 64) + "..."},
		{"no rune start at all", strings.Repeat("\x80", 70), "..."},
	} {
		got := excerpt(tc.s)
		if got != tc.want {
			t.Errorf("%s: excerpt = %q, want %q", tc.name, got, tc.want)
		}
		if !utf8.ValidString(got) && utf8.ValidString(tc.s) {
			t.Errorf("%s: excerpt cuts a rune: %q", tc.name, got)
		}
	}
}

// TestReadRecordErrors: the errors ReadRecord can give, each at the
// annotation's path.
func TestReadRecordErrors(t *testing.T) {
	for _, tc := range []struct {
		name, record, want string
	}{
		{"member of the wrong type", `{"v":2,"mode":"native","initContainers":{"proxy":7}}`, "not a sidecarkit record: "},
		{"mode of the wrong type", `{"v":2,"mode":5}`, "not a sidecarkit record: "},
		{"empty mode", `{"v":2}`, `unknown mode ""`},
		{"long mode", `{"v":2,"mode":"` + strings.Repeat("m", 100) + `"}`, `unknown mode "` + strings.Repeat("m", 64) + `..."`},
		{"a claimed container of another name", `{"v":2,"mode":"legacy","containers":{"proxy":"1","app":"2"}}`, `names container "app"`},
		{"other names in both lists: the init container's first", `{"v":2,"mode":"universal","initContainers":{"init":"1"},"containers":{"app":"2"}}`, `names container "init"`},
	} {
		meta := &metav1.ObjectMeta{Annotations: map[string]string{Annotation("proxy"): tc.record}}
		_, has, err := ReadRecord(meta, "proxy")
		if err == nil || has || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "metadata.annotations[sidecar.sidecarkit.io/proxy]: Invalid value") {
			t.Errorf("%s: ReadRecord = %v, %v; want %q", tc.name, has, err, tc.want)
		}
	}
	if r, has, err := ReadRecord(nil, "proxy"); err != nil || has || r.Version != 0 {
		t.Errorf("ReadRecord(nil) = %+v, %v, %v", r, has, err)
	}
	meta := &metav1.ObjectMeta{Annotations: map[string]string{Annotation("other"): `{"v":2,"mode":"native"}`}}
	if _, has, err := ReadRecord(meta, "proxy"); err != nil || has {
		t.Errorf("ReadRecord of another sidecar's record: %v, %v", has, err)
	}
	meta.Annotations[Annotation("proxy")] = `{"v":2,"mode":"pinned","initContainers":{"proxy":"1"},"containers":{"proxy-legacy":"2"},"nodeRequirement":true}`
	r, has, err := ReadRecord(meta, "proxy")
	if err != nil || !has || r.Mode != Pinned || r.InitContainers["proxy"] != "1" || r.Containers["proxy-legacy"] != "2" || !r.NodeRequirement {
		t.Errorf("ReadRecord = %+v, %v, %v", r, has, err)
	}
}

// TestSchedulingSpecErrors: an unreadable record is an error, and a nil
// spec is returned as it is.
func TestSchedulingSpecErrors(t *testing.T) {
	spec := &corev1.PodSpec{}
	meta := &metav1.ObjectMeta{Annotations: map[string]string{Annotation("proxy"): `{"v":9}`}}
	got, err := SchedulingSpec(meta, spec, "proxy")
	if err == nil || got != spec || !strings.HasPrefix(err.Error(), "sidecar: scheduling spec: metadata.annotations") {
		t.Errorf("SchedulingSpec of a bad record = %p, %v", got, err)
	}
	meta.Annotations[Annotation("proxy")] = `{"v":2,"mode":"pinned","nodeRequirement":true}`
	if got, err := SchedulingSpec(meta, nil, "proxy"); err != nil || got != nil {
		t.Errorf("SchedulingSpec(nil spec) = %v, %v", got, err)
	}
	// Pinned, but the pod has no affinity left: the spec as it is (a copy
	// or itself, without error).
	if got, err := SchedulingSpec(meta, spec, "proxy"); err != nil || got == nil || got.Affinity != nil {
		t.Errorf("SchedulingSpec without affinity = %+v, %v", got, err)
	}
	meta.Annotations[Annotation("proxy")] = `{"v":2,"mode":"native"}`
	if got, err := SchedulingSpec(meta, spec, "proxy"); err != nil || got != spec {
		t.Errorf("SchedulingSpec of a native record = %p, %v; want the spec itself", got, err)
	}
}

// TestRecordEncodeSorted: encode sorts every map's keys (many of them, so
// that no iteration order is sorted by chance), as json.Marshal does.
func TestRecordEncodeSorted(t *testing.T) {
	r := Record{Version: 2, Mode: Native, Resources: map[string][]string{}, InitContainers: map[string]string{},
		Containers: map[string]string{}, Volumes: map[string]string{}, AppMounts: map[string]string{}, AppEnv: map[string]string{}}
	for i := 0; i < 40; i++ {
		k := fmt.Sprintf("k%02d", (i*17)%40)
		r.Resources[k] = []string{k}
		for _, m := range []map[string]string{r.InitContainers, r.Containers, r.Volumes, r.AppMounts, r.AppEnv} {
			m[k] = k
		}
	}
	want, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if got := r.encode(); got != string(want) {
		t.Errorf("encode() = %s\n json.Marshal = %s", got, want)
	}
}
