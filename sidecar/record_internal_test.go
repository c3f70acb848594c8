package sidecar

import (
	"encoding/json"
	"testing"
)

func TestRecordEncode(t *testing.T) {
	for _, r := range []Record{
		{},
		{Version: 1, Mode: Native, Hash: "abc", InitContainers: []string{"proxy"}},
		{Version: 1, Mode: Universal, Hash: "h", InitContainers: []string{"a", "b"}, Containers: []string{"c"}, Volumes: []string{"v<&>"},
			Apps:            map[string]AppRecord{"z": {}, "app": {Mounts: []string{"/m"}, Env: []string{"E"}}, "b": {Env: []string{"X", "Y"}}},
			NodeRequirement: true},
		{Version: -3, Mode: "odd\"mode", Hash: "\u2028", Apps: map[string]AppRecord{}, Volumes: []string{}},
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
	f.Add(1, "native", "h", "proxy", "", "data", "app", "/m", "E", true)
	f.Add(0, "<&>", "\xff", "", "c", "", "", "", "", false)
	f.Fuzz(func(t *testing.T, v int, mode, hash, ic, c, vol, app, mount, env string, node bool) {
		r := Record{Version: v, Mode: Mode(mode), Hash: hash, NodeRequirement: node}
		if ic != "" {
			r.InitContainers = []string{ic, c}
		}
		if c != "" {
			r.Containers = []string{c}
		}
		if vol != "" {
			r.Volumes = []string{vol}
		}
		if app != "" || mount != "" || env != "" {
			a := AppRecord{}
			if mount != "" {
				a.Mounts = []string{mount}
			}
			if env != "" {
				a.Env = []string{env, mount}
			}
			r.Apps = map[string]AppRecord{app: a, mount: {}}
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
