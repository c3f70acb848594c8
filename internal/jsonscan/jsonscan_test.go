package jsonscan

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
)

func TestFind(t *testing.T) {
	doc := `{"spec":{"initContainers":[{"name":"a"},{"name":"b","x":{"y":[1,2]}}],"containers":null},
	         "metadata":{"name":"m"}, "k\u0065y":"escaped", "a/b":1}`
	for _, tc := range []struct {
		path string
		want string
		ok   bool
	}{
		{"", doc, true},
		{"spec/initContainers/1/name", `"b"`, true},
		{"spec/initContainers/1/x/y/1", `2`, true},
		{"spec/initContainers/2", ``, false},
		{"spec/initContainers/-1", ``, false},
		{"spec/initContainers/01", ``, false},
		{"spec/initContainers/x", ``, false},
		{"spec/containers/0", ``, false},
		{"spec/containers", `null`, true},
		{"metadata/name/0", ``, false},
		{"key", `"escaped"`, true},
		{"nope", ``, false},
	} {
		var tokens []string
		if tc.path != "" {
			tokens = strings.Split(tc.path, "/")
		}
		got, ok, err := Find([]byte(doc), tokens)
		if err != nil || ok != tc.ok || (ok && string(got) != tc.want) {
			t.Errorf("Find(%q) = %q, %v, %v; want %q, %v", tc.path, got, ok, err, tc.want, tc.ok)
		}
	}
}

// Repeated keys read as encoding/json decodes them into structs: the last
// array counts, objects merge.
func TestFindRepeatedKeys(t *testing.T) {
	for _, tc := range []struct {
		doc, path, want string
		ok              bool
	}{
		{`{"l":[1,2],"l":[3]}`, "l/1", ``, false},
		{`{"l":[1,2],"l":[3]}`, "l/0", `3`, true},
		{`{"s":{"a":1},"s":{"b":2}}`, "s/a", `1`, true},
		{`{"s":{"a":1},"s":{"a":3}}`, "s/a", `3`, true},
		{`{"s":{"a":1},"s":5}`, "s/a", ``, false},
		{`{"s":{"a":[1]},"s":{"a":[]}}`, "s/a/0", ``, false},
	} {
		got, ok, err := Find([]byte(tc.doc), strings.Split(tc.path, "/"))
		if err != nil || ok != tc.ok || (ok && string(got) != tc.want) {
			t.Errorf("Find(%s, %q) = %q, %v, %v; want %q, %v", tc.doc, tc.path, got, ok, err, tc.want, tc.ok)
		}
	}
}

func TestFindMalformed(t *testing.T) {
	for _, doc := range []string{`{"a":`, `{"a":[1,}`, `[1,2`, `{"a" 1}`, `{"a":"x`} {
		if _, ok, err := Find([]byte(doc), []string{"a", "0"}); err == nil && ok {
			t.Errorf("Find(%s) found something in malformed JSON", doc)
		}
	}
}

// FuzzFind: on valid JSON without repeated keys, Find agrees with a
// generic decode followed by navigation; on any input it never panics.
func FuzzFind(f *testing.F) {
	f.Add([]byte(`{"a":[{"b":1},{"c":[true,null,"x"]}]}`), "a/1/c/2")
	f.Add([]byte(`[[1],[2,[3]]]`), "1/1/0")
	f.Add([]byte(`{"a":{"a":{"a":5}}}`), "a/a/a")
	f.Fuzz(func(t *testing.T, doc []byte, path string) {
		var tokens []string
		if path != "" {
			tokens = strings.Split(path, "/")
		}
		got, ok, err := Find(doc, tokens)
		var v interface{}
		if json.Unmarshal(doc, &v) != nil || hasRepeatedKeys(doc) {
			return
		}
		want, wantOK := navigate(v, tokens)
		if err != nil {
			if wantOK {
				t.Fatalf("Find(%s, %q) error %v; navigation finds %v", doc, path, err, want)
			}
			return
		}
		if ok != wantOK {
			t.Fatalf("Find(%s, %q) ok = %v, navigation %v", doc, path, ok, wantOK)
		}
		if !ok {
			return
		}
		var g interface{}
		if err := json.Unmarshal(got, &g); err != nil {
			t.Fatalf("Find(%s, %q) = %q: %v", doc, path, got, err)
		}
		if !reflect.DeepEqual(g, want) {
			t.Fatalf("Find(%s, %q) = %v, navigation %v", doc, path, g, want)
		}
	})
}

func navigate(v interface{}, tokens []string) (interface{}, bool) {
	for _, tok := range tokens {
		switch x := v.(type) {
		case map[string]interface{}:
			var ok bool
			if v, ok = x[tok]; !ok {
				return nil, false
			}
		case []interface{}:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(x) || strconv.Itoa(i) != tok {
				return nil, false
			}
			v = x[i]
		default:
			return nil, false
		}
	}
	return v, true
}

// hasRepeatedKeys reports whether some object of doc repeats a key.
func hasRepeatedKeys(doc []byte) bool {
	dec := json.NewDecoder(strings.NewReader(string(doc)))
	type frame struct {
		obj  bool
		seen map[string]bool
		key  bool // the next string token in an object is a key
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		switch x := tok.(type) {
		case json.Delim:
			switch x {
			case '{':
				if top != nil && top.obj {
					top.key = true
				}
				stack = append(stack, &frame{obj: true, seen: map[string]bool{}, key: true})
				continue
			case '[':
				if top != nil && top.obj {
					top.key = true
				}
				stack = append(stack, &frame{})
				continue
			default:
				stack = stack[:len(stack)-1]
				continue
			}
		case string:
			if top != nil && top.obj && top.key {
				if top.seen[x] {
					return true
				}
				top.seen[x] = true
				top.key = false
				continue
			}
		}
		if top != nil && top.obj {
			top.key = true
		}
	}
}

// TestValidNumber compares validNumber with json.Valid on every string of
// up to five number bytes (and a few others): the scanner's number check
// must accept exactly the numbers encoding/json accepts.
func TestValidNumber(t *testing.T) {
	const alphabet = "019-+.eEx"
	var walk func(prefix []byte, n int)
	checked := 0
	walk = func(prefix []byte, n int) {
		if len(prefix) > 0 {
			checked++
			if got, want := validNumber(prefix), json.Valid(prefix); got != want {
				t.Fatalf("validNumber(%q) = %v, json.Valid %v", prefix, got, want)
			}
		}
		if n == 0 {
			return
		}
		for i := 0; i < len(alphabet); i++ {
			walk(append(prefix, alphabet[i]), n-1)
		}
	}
	walk(nil, 5)
	if checked < 60000 {
		t.Fatalf("checked %d strings", checked)
	}
}

func TestPlainString(t *testing.T) {
	for _, v := range []string{`"abc"`, `""`, `"a b/c:d"`, `"a\"b"`, `"a\\nb"`, `"é"`, "\"a\tb\"", `"a"b"`, `1`, `"`, `null`, `"~"`} {
		got, ok := PlainString([]byte(v))
		var want string
		err := json.Unmarshal([]byte(v), &want)
		if ok && (err != nil || got != want) {
			t.Errorf("PlainString(%s) = %q; encoding/json gives %q, %v", v, got, want, err)
		}
		plain := err == nil && len(v) >= 2 && v[0] == '"' && !strings.ContainsAny(v[1:len(v)-1], "\\\"\t") && v != `"é"`
		if ok != plain {
			t.Errorf("PlainString(%s) ok = %v, want %v", v, ok, plain)
		}
	}
}

// TestStringLanes puts a quote, an escape, a control character and a
// non-ASCII byte at every position of a long string, so that the
// eight-bytes-at-a-time skip sees each in every lane: the scan accepts
// exactly what encoding/json accepts, and ends the string where it does.
func TestStringLanes(t *testing.T) {
	for _, special := range []string{`\"`, `\\`, "\x01", "\x1f", "\u00e9", "\x7f", `"`} {
		for at := 0; at < 24; at++ {
			s := strings.Repeat("a", at) + special + strings.Repeat("b", 24-at)
			doc := `["` + s + `",1]`
			var want []interface{}
			wantErr := json.Unmarshal([]byte(doc), &want)
			var got [][]byte
			err := Array([]byte(doc), func(_ int, v []byte) error {
				got = append(got, v)
				return nil
			})
			if (err != nil) != (wantErr != nil) {
				t.Fatalf("%q: scan error %v, encoding/json %v", doc, err, wantErr)
			}
			if err == nil && (len(got) != len(want) || string(got[1]) != "1") {
				t.Fatalf("%q: elements %q", doc, got)
			}
		}
	}
}

// readerWalk reads the value at rd as the bits of choice (consumed one
// per member or element, cycling) say: 0 descend, 1 take its Value, 2
// leave it to be skipped. It returns the value rebuilt from what it read
// (nil for what it left), and checks the Offset/Since bytes of each
// descended container, which must be one valid value when the document is
// (strict; a skip checks only the structure, see the package doc).
func readerWalk(t *testing.T, rd *Reader, choice []byte, k *int, strict bool) (interface{}, error) {
	next := func() byte {
		if len(choice) == 0 {
			return 0
		}
		c := choice[*k%len(choice)] % 3
		*k++
		return c
	}
	read := func() (interface{}, error) {
		switch next() {
		case 1:
			v, err := rd.Value()
			if err != nil {
				return nil, err
			}
			var x interface{}
			if err := json.Unmarshal(v, &x); err != nil {
				return nil, err
			}
			return x, nil
		case 2:
			return nil, nil
		}
		switch rd.Next() {
		case '{', '[':
			start := rd.Offset()
			x, err := readerWalk(t, rd, choice, k, strict)
			if err == nil && strict && !json.Valid(rd.Since(start)) {
				t.Fatalf("Since(Offset) after a descent = %q, not one value", rd.Since(start))
			}
			return x, err
		}
		v, err := rd.Value()
		if err != nil {
			return nil, err
		}
		var x interface{}
		if err := json.Unmarshal(v, &x); err != nil {
			return nil, err
		}
		return x, nil
	}
	switch rd.Next() {
	case '{':
		m := map[string]interface{}{}
		err := rd.Object(func(key []byte) error {
			v, err := read()
			m[string(key)] = v
			return err
		})
		return m, err
	case '[':
		var l []interface{}
		err := rd.Array(func(int) error {
			v, err := read()
			l = append(l, v)
			return err
		})
		return l, err
	}
	return nil, fmt.Errorf("not an object or array")
}

// prune is v with the parts readerWalk left (per choice) set to nil, as
// readerWalk rebuilds it.
func prune(v interface{}, choice []byte, k *int) interface{} {
	next := func() byte {
		if len(choice) == 0 {
			return 0
		}
		c := choice[*k%len(choice)] % 3
		*k++
		return c
	}
	one := func(x interface{}) interface{} {
		switch next() {
		case 1:
			return x
		case 2:
			return nil
		}
		switch x.(type) {
		case map[string]interface{}, []interface{}:
			return prune(x, choice, k)
		}
		return x
	}
	switch v := v.(type) {
	case map[string]interface{}:
		// Members in document order: readerWalk consumes choices in that
		// order, so prune can only follow when keys are sorted in the
		// document (FuzzReader's documents are json.Marshal output).
		keys := make([]string, 0, len(v))
		for key := range v {
			keys = append(keys, key)
		}
		sort.Strings(keys)
		m := map[string]interface{}{}
		for _, key := range keys {
			m[key] = one(v[key])
		}
		return m
	case []interface{}:
		var l []interface{}
		for _, x := range v {
			l = append(l, one(x))
		}
		return l
	}
	return v
}

// FuzzReader: a Reader that descends into some values, takes others whole
// and leaves the rest reads exactly what encoding/json decodes, and fails
// where Object or Array fail.
func FuzzReader(f *testing.F) {
	f.Add([]byte(`{"a":[{"b":1},{"c":[true,null,"x"]}],"d":{"e":"f"}}`), []byte{0, 1, 2})
	f.Add([]byte(`[[1],[2,[3]],{"k":{"l":[]}}]`), []byte{0})
	f.Add([]byte(`{"a":{"a":{"a":5}},"b":null}`), []byte{2, 0, 0, 1})
	f.Add([]byte(`{"a":[1,2}`), []byte{0})
	f.Fuzz(func(t *testing.T, doc, choice []byte) {
		var v interface{}
		valid := json.Unmarshal(doc, &v) == nil
		if valid {
			// Canonical documents (keys sorted, no repeats) so that prune
			// can follow readerWalk's order.
			b, err := json.Marshal(v)
			if err != nil {
				t.Skip()
			}
			doc = b
		}
		rd := NewReader(doc)
		k := 0
		got, err := readerWalk(t, rd, choice, &k, valid)
		if err == nil {
			err = rd.End()
		}
		var structural error
		switch {
		case len(bytes.TrimSpace(doc)) > 0 && bytes.TrimSpace(doc)[0] == '{':
			structural = Object(doc, func(_, _ []byte) error { return nil })
		case len(bytes.TrimSpace(doc)) > 0 && bytes.TrimSpace(doc)[0] == '[':
			structural = Array(doc, func(int, []byte) error { return nil })
		default:
			structural = fmt.Errorf("not an object or array")
		}
		if !valid {
			if err == nil && structural != nil {
				t.Fatalf("Reader accepted %q, which Object/Array refuse: %v", doc, structural)
			}
			return
		}
		if structural != nil {
			return // a scalar document
		}
		if err != nil {
			t.Fatalf("Reader on %s: %v", doc, err)
		}
		k = 0
		if want := prune(v, choice, &k); !reflect.DeepEqual(got, want) {
			t.Fatalf("Reader read %v from %s, want %v", got, doc, want)
		}
	})
}
