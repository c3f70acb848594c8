package sidecar

import (
	"encoding/json"
	"testing"
)

func TestRecordEncode(t *testing.T) {
	for _, r := range []Record{
		{},
		{Version: 2, Mode: Native, Reason: "all-native", Spec: "abc", InitContainers: map[string]string{"proxy": "d1"}},
		{Version: 2, Mode: Universal, Spec: "h", InitContainers: map[string]string{"b": "1", "a": "2"}, Containers: map[string]string{"c": "3"},
			Volumes: map[string]string{"v<&>": "4"}, AppMounts: map[string]string{"/m": "5", "/a": "6"}, AppEnv: map[string]string{"Z": "7", "E": "8"},
			Resources:       map[string][]string{"b": {"limits/memory", "requests/cpu"}, "a": nil, "c": {}},
			PresetMounts:    map[string][]string{"/m": {"app", "web"}},
			PresetEnv:       map[string][]string{"Z": {"w\"eb"}, "E": {}},
			NodeRequirement: true},
		{Version: -3, Mode: "odd\"mode", Reason: "\u2028", Spec: "\u2028", AppMounts: map[string]string{}, Volumes: map[string]string{}},
	} {
		want, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		if got := r.encode(); got != string(want) {
			t.Errorf("encode() = %s\n json.Marshal = %s", got, want)
		}
	}
}

// FuzzRecordEncode holds the hand-written encoder to json.Marshal's bytes.
func FuzzRecordEncode(f *testing.F) {
	f.Add(2, "native", "all-native", "h", "proxy", "", "data", "/m", "E", "d", true)
	f.Add(0, "<&>", "", "\xff", "", "c", "", "", "", "\u2028", false)
	f.Fuzz(func(t *testing.T, v int, mode, reason, spec, ic, c, vol, mount, env, d string, node bool) {
		r := Record{Version: v, Mode: Mode(mode), Reason: reason, Spec: spec, NodeRequirement: node}
		if ic != "" {
			r.InitContainers = map[string]string{ic: d, c: spec}
		}
		if c != "" {
			r.Containers = map[string]string{c: d}
		}
		if vol != "" {
			r.Volumes = map[string]string{vol: d, mount: env}
		}
		if mount != "" {
			r.AppMounts = map[string]string{mount: d}
		}
		if env != "" {
			r.AppEnv = map[string]string{env: d, mount: vol}
			r.Resources = map[string][]string{env: {d, reason}, ic: nil}
			r.PresetEnv = map[string][]string{env: {c, ic}}
		}
		if mount != "" && c != "" {
			r.PresetMounts = map[string][]string{mount: {c}, vol: nil}
		}
		want, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		if got := r.encode(); got != string(want) {
			t.Errorf("encode() = %s\n json.Marshal = %s", got, want)
		}
	})
}
