package sidecar

import (
	"encoding/json"
	"reflect"
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

// TestEncodeRecordCache: an Injector's mode reuses the encoding of the
// last record only for an equal one. Each record here differs from the
// one before it in one field (every field of Record in turn, set through
// reflection so that a field added later is covered too), then comes
// again; each must get its own encoding. A plan built for one Pod keeps
// nothing.
func TestEncodeRecordCache(t *testing.T) {
	base := Record{Version: 2, Mode: Native, Reason: "all-native", Spec: "h", InitContainers: map[string]string{"proxy": "d"}}
	records := []Record{base}
	rt := reflect.TypeOf(base)
	for i := 0; i < rt.NumField(); i++ {
		for k := 0; k < 2; k++ {
			r := base
			v := reflect.ValueOf(&r).Elem().Field(i)
			switch v.Kind() {
			case reflect.String:
				v.SetString(v.String() + "x" + string(rune('a'+k)))
			case reflect.Int:
				v.SetInt(v.Int() + 1 + int64(k))
			case reflect.Bool:
				v.SetBool(k == 0)
			case reflect.Map:
				m := reflect.MakeMap(v.Type())
				key := reflect.ValueOf(string(rune('a' + k)))
				if v.Type().Elem().Kind() == reflect.Slice {
					m.SetMapIndex(key, reflect.ValueOf([]string{"x"}))
				} else {
					m.SetMapIndex(key, reflect.ValueOf("x"))
				}
				v.Set(m)
			default:
				t.Fatalf("field %s: kind %s is not varied by this test", rt.Field(i).Name, v.Kind())
			}
			records = append(records, r, r, base)
		}
	}
	compiled := &compiledMode{containers: map[string]string{}}
	perPod := &compiledMode{}
	for i := range records {
		want := records[i].encode()
		if got := compiled.encodeRecord(&records[i]); got != want {
			t.Errorf("record %d: encodeRecord = %s, want %s", i, got, want)
		}
		if got := perPod.encodeRecord(&records[i]); got != want {
			t.Errorf("record %d, per-Pod plan: encodeRecord = %s, want %s", i, got, want)
		}
	}
	if compiled.record.Load() == nil || perPod.record.Load() != nil {
		t.Errorf("kept records: compiled %v, per-Pod plan %v", compiled.record.Load(), perPod.record.Load())
	}
	// A hit stores nothing: the kept record stays the one stored.
	r := base
	compiled.encodeRecord(&r)
	kept := compiled.record.Load()
	if compiled.encodeRecord(&r) != kept.enc || compiled.record.Load() != kept {
		t.Errorf("an equal record was stored again")
	}
}
