package policy

import (
	"encoding/json"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

func mustVolume(t *testing.T, s string) corev1.Volume {
	t.Helper()
	var v corev1.Volume
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestCELValue(t *testing.T) {
	for _, tc := range []struct {
		name string
		v    any
		typ  string
		want string
	}{
		{"scalars and lists", &corev1.Container{Name: "p", Image: "i", Args: []string{"a", `"q"`}, Stdin: true},
			"Object.spec.initContainers", `Object.spec.initContainers{name: "p", image: "i", args: ["a", "\"q\""], resources: Object.spec.initContainers.resources{}, stdin: true}`},
		{"maps and quantities", corev1.ResourceRequirements{Limits: corev1.ResourceList{"memory": resource.MustParse("64Mi"), "example.com/gpu": resource.MustParse("1")}},
			"Object.r", `Object.r{limits: {"example.com/gpu": "1", "memory": "64Mi"}}`},
		{"int or string", corev1.ContainerPort{ContainerPort: 80, Name: "http"}, "Object.p", `Object.p{name: "http", containerPort: 80}`},
		{"nested and int-or-string", corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Port: intstr.FromString("http"), Path: "/"}}, PeriodSeconds: 3},
			"Object.p", `Object.p{httpGet: Object.p.httpGet{path: "/", port: "http"}, periodSeconds: 3}`},
		{"escapes", corev1.EnvVar{Name: "E", Value: "a\nb\t\\\x01é😀"}, "Object.e", `Object.e{name: "E", value: "a\nb\t\\\u0001é\U0001F600"}`},
		{"pointer", &corev1.SecurityContext{RunAsUser: ptr.To[int64](0), ReadOnlyRootFilesystem: ptr.To(false)}, "Object.s", `Object.s{runAsUser: 0, readOnlyRootFilesystem: false}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := celValue(tc.v, tc.typ)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestCELString(t *testing.T) {
	for in, want := range map[string]string{
		"":         `""`,
		`a"b`:      `"a\"b"`,
		"\x7f":     `"\u007F"`,
		"\xff":     `"\uFFFD"`,
		"line\r\n": `"line\r\n"`,
	} {
		if got := celString(in); got != want {
			t.Errorf("celString(%q) = %s, want %s", in, got, want)
		}
	}
}

// FuzzCELString: every string renders as one CEL string literal: quoted,
// without raw control characters or an unescaped quote inside.
func FuzzCELString(f *testing.F) {
	for _, s := range []string{"", "a", `"`, `\`, "\n", "\x00", "é", "😀", "\xff\xfe", `\"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q := celString(s)
		if len(q) < 2 || q[0] != '"' || q[len(q)-1] != '"' {
			t.Fatalf("%q: not quoted: %s", s, q)
		}
		body := q[1 : len(q)-1]
		for i := 0; i < len(body); i++ {
			switch c := body[i]; {
			case c == '\\':
				i++ // the escaped character
			case c == '"':
				t.Fatalf("%q: unescaped quote in %s", s, q)
			case c < 0x20 || c == 0x7f:
				t.Fatalf("%q: raw control character in %s", s, q)
			}
		}
		if strings.ContainsRune(s, '"') && !strings.Contains(q, `\"`) {
			t.Fatalf("%q: quote lost in %s", s, q)
		}
	})
}
