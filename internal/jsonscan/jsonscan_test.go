package jsonscan

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
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
	for _, doc := range []string{`{"a":`, `{"a":[1,}`, `{"b":[1,}`, `{"a":[1,2`, `{"a" 1}`, `{"a":"x`, `[1,2`} {
		tokens := []string{"a", "0"}
		if doc[0] == '[' {
			tokens = []string{"5"}
		}
		if _, ok, err := Find([]byte(doc), tokens); err == nil || ok {
			t.Errorf("Find(%s, %q) = %v, %v; want an error", doc, tokens, ok, err)
		}
	}
	// An array is read up to the element wanted, not past it.
	if v, ok, err := Find([]byte(`[1, x`), []string{"0"}); string(v) != "1" || !ok || err != nil {
		t.Errorf("Find([1, x, 0) = %q, %v, %v; want 1", v, ok, err)
	}
}

// TestReader: a Reader's Value and Next take the white space before a
// value, Next says what comes (0 at the end), and Offset/Since give the
// bytes of what was read.
func TestReader(t *testing.T) {
	rd := NewReader([]byte(" \t\n 12 "))
	if c := rd.Next(); c != '1' {
		t.Errorf("Next = %q, want '1'", c)
	}
	rd = NewReader([]byte("  [1, {\"a\": \"b\"}] "))
	if v, err := rd.Value(); string(v) != `[1, {"a": "b"}]` || err != nil {
		t.Errorf("Value = %q, %v", v, err)
	}
	if c := rd.Next(); c != 0 {
		t.Errorf("Next at the end = %q, want 0", c)
	}
	if err := rd.End(); err != nil {
		t.Errorf("End: %v", err)
	}
	rd = NewReader([]byte(`{"a": [ 1 , 2 ], "b": {"c": null}}`))
	var got []string
	err := rd.Object(func(k []byte) error {
		if string(k) == "b" {
			v, err := rd.Value()
			got = append(got, string(k)+"="+string(v))
			return err
		}
		start := rd.Offset()
		err := rd.Array(func(i int) error { return nil })
		got = append(got, string(k)+"~"+string(rd.Since(start)))
		return err
	})
	if want := []string{`a~[ 1 , 2 ]`, `b={"c": null}`}; err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, %v; want %q", got, err, want)
	}
	for _, doc := range []string{`{"a":1,}`, `{"a":[1}`, `{"a" 1}`, `[1,]`, `{"a":1} x`, `"s"`} {
		rd := NewReader([]byte(doc))
		err := rd.Object(func([]byte) error { return nil })
		if err == nil {
			err = rd.End()
		}
		if err == nil {
			t.Errorf("%s: no error", doc)
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
	for _, v := range []string{`"abc"`, `""`, `"a b/c:d"`, `"v1"`, `"v2"`, `"Pod"`, `"Pods"`, `"CREATE"`, `"default-scheduler"`, `"defaul"`, `"/dev/termination-log"`, `"a\"b"`, `"a\\nb"`, `"é"`, "\"a\tb\"", `"a"b"`, `1`, `"`, `null`, `"~"`} {
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

// TestCommon: common takes exactly its values, returns for each the bytes
// it was given without allocating, and declines every other.
func TestCommon(t *testing.T) {
	takes := map[string]bool{"v1": true, "Pod": true, "CREATE": true, "TCP": true, "Always": true, "IfNotPresent": true, "ClusterFirst": true,
		"default-scheduler": true, "File": true, "/dev/termination-log": true, "default": true}
	values := []string{"", "v", "v11", "pod", "Create", "UPDATE", "Never", "ClusterFirstWithHostNet", "default-scheduler ", "FallbackToLogsOnError"}
	for v := range takes {
		values = append(values, v)
	}
	for _, v := range values {
		b := []byte(v)
		got, ok := common(b)
		if ok != takes[v] || got != map[bool]string{true: v}[ok] {
			t.Errorf("common(%q) = %q, %v; want it taken: %v", v, got, ok, takes[v])
		}
		if ok && testing.AllocsPerRun(10, func() { common(b) }) != 0 {
			t.Errorf("common(%q) allocates", v)
		}
	}
	if testing.AllocsPerRun(10, func() { PlainString([]byte(`"ClusterFirst"`)) }) != 0 {
		t.Error("PlainString of a common value allocates")
	}
}

// TestKeyLanes puts an escape, a non-ASCII byte (valid and invalid
// UTF-8) and a DEL at every position of a long object key, so that the
// eight-bytes-at-a-time skip sees each in every lane: the key handed out
// is the one encoding/json decodes (escapes resolved, invalid UTF-8
// replaced), and a plain key is handed out as its bytes.
func TestKeyLanes(t *testing.T) {
	for _, special := range []string{"", `\"`, `\\`, `\u00e9`, "\u00e9", "\xff", "\x80", "\x7f", `\/`} {
		for at := 0; at < 24; at++ {
			for after := 0; after < 10; after++ { // the special byte's distance to the closing quote
				k := strings.Repeat("a", at) + special + strings.Repeat("b", after)
				doc := `{"` + k + `":1}`
				var want map[string]int
				if err := json.Unmarshal([]byte(doc), &want); err != nil {
					t.Fatalf("%q: %v", doc, err)
				}
				var got []string
				if err := Object([]byte(doc), func(key, _ []byte) error {
					got = append(got, string(key))
					return nil
				}); err != nil {
					t.Fatalf("%q: %v", doc, err)
				}
				if len(got) != 1 || want[got[0]] != 1 {
					t.Errorf("%q: key %q, encoding/json has %v", doc, got, want)
				}
			}
		}
	}
	// Keys of a non-ASCII byte alone, whose bits or-ed are exactly 0x80.
	for _, k := range []string{"\x80", "\x80\x80", "a\x80"} {
		var want map[string]int
		if err := json.Unmarshal([]byte(`{"`+k+`":1}`), &want); err != nil {
			t.Fatal(err)
		}
		if err := Object([]byte(`{"`+k+`":1}`), func(key, _ []byte) error {
			if want[string(key)] != 1 {
				t.Errorf("%q: key %q, encoding/json has %v", k, key, want)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
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
			return readValue(rd)
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
		return readValue(rd)
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
		l := []interface{}{}
		err := rd.Array(func(int) error {
			v, err := read()
			l = append(l, v)
			return err
		})
		return l, err
	}
	return nil, fmt.Errorf("not an object or array")
}

// readValue takes the value at rd whole and decodes it with
// encoding/json.
func readValue(rd *Reader) (interface{}, error) {
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
		l := []interface{}{}
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

// scanDocs are valid documents with every kind of value, numbers with
// every number byte, escapes, and strings around the eight-byte lanes.
var scanDocs = []string{
	`{}`, `[]`, `{"a":{}}`, `[[],{}]`,
	`{"n":[0,9,10,-0,-9.05,1e9,2E-7,3e+10,0.5E+0],"t":true,"f":false,"z":null}`,
	`{"s":["","a","abcdefg","abcdefgh","abcdefghi","abcdefghijklmnop","abcdefghijklmnopq"]}`,
	`{"e":["\"","\\","\/","\b\f\n\r\t","\u00e9\u20AC","12345678\"","1234567\\x"],"é":"ü"}`,
	` { "w" : [ 1 , { "x" : "y" } , null ] , "v" : -1 , "u" : [ ] , "o" : { } } `,
	`{"\u0061":1,"\u00e9x":2,"\"":3}`,
	"\t[\n\r{\"k\":[true,false,null]}]\n",
}

// TestScanEdges: on valid documents the Reader, descending everywhere,
// reads what encoding/json decodes; every proper prefix is refused (and
// nothing panics); scalars read whole by Value end exactly at the input's
// end.
func TestScanEdges(t *testing.T) {
	for _, doc := range scanDocs {
		var want interface{}
		if err := json.Unmarshal([]byte(doc), &want); err != nil {
			t.Fatalf("%s: %v", doc, err)
		}
		rd := NewReader([]byte(doc))
		k := 0
		got, err := readerWalk(t, rd, nil, &k, true)
		if err == nil {
			err = rd.End()
		}
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: read %v, %v; want %v", doc, got, err, want)
		}
		for _, walk := range []func([]byte) error{
			func(b []byte) error { return Object(b, func(_, _ []byte) error { return nil }) },
			func(b []byte) error { return Array(b, func(int, []byte) error { return nil }) },
			func(b []byte) error { rd := NewReader(b); _, err := rd.Value(); return err },
		} {
			for n := 0; n < len(strings.TrimRight(doc, " \t\r\n")); n++ {
				if err := walk([]byte(doc[:n])); err == nil {
					t.Errorf("prefix %q accepted", doc[:n])
				}
			}
		}
	}
	for _, v := range []string{"true", "false", "null", "0", "9", "-19.5e+10", `"abcdefgh"`, `"a\"b"`, `""`} {
		rd := NewReader([]byte(v))
		got, err := rd.Value()
		if err != nil || string(got) != v || rd.End() != nil {
			t.Errorf("Value(%s) = %q, %v", v, got, err)
		}
		for n := 0; n < len(v); n++ {
			rd := NewReader([]byte(v[:n]))
			if got, err := rd.Value(); err == nil && rd.End() == nil && json.Valid([]byte(v[:n])) != true {
				t.Errorf("Value(%q) = %q, accepted", v[:n], got)
			}
		}
	}
	// Malformed values: caught by a skip (structure: brackets, strings,
	// literals, numbers), and with the grammar's separators only by a
	// descent. A callback never sees a malformed value.
	skipBad := []string{`[tru]`, `[nul]`, `[fals]`, `[1.]`, `[-]`, `[01x]`, `[x]`, `["a` + "\x1f" + `"]`, `["abcdefgh` + "\x01" + `ijklmnop"]`, `["ABCDEFGH` + "\x01" + `IJKLMNOP"]`, `["ABCDEFG` + "\x1f" + `"]`,
		`{"a` + "\n" + `":1}`, `[1 2`, `{"a":1]`, `[1}`, `{"a":[}]}`, `[{]`}
	grammarBad := []string{`{"a":1 "b":2}`, `{"a" 1}`, `[1 2]`, `{"a":1,}`, `[1,]`, `{1:2}`, `{"a"x1}`, `{a":1}`, `[trux]`}
	descend := func(v []byte) error {
		rd := NewReader(v)
		var err error
		if rd.Next() == '{' {
			err = rd.Object(func([]byte) error { _, err := rd.Value(); return err })
		} else {
			err = rd.Array(func(int) error { _, err := rd.Value(); return err })
		}
		if err == nil {
			err = rd.End()
		}
		return err
	}
	for _, bad := range append(skipBad, grammarBad...) {
		doc := []byte(`{"x":` + bad + `}`)
		if err := descend([]byte(bad)); err == nil {
			t.Errorf("%s accepted by a descent", bad)
		}
		err := Object(doc, func(_, v []byte) error { return descend(v) })
		if err == nil {
			t.Errorf("%s accepted by a skip and a descent", bad)
		}
		for _, skip := range []func() error{
			func() error { return Object(doc, func(_, v []byte) error { return nil }) },
			func() error { return Array([]byte(`[`+bad+`]`), func(int, []byte) error { return nil }) },
			func() error {
				return Array([]byte(bad), func(_ int, v []byte) error {
					if len(v) == 0 {
						t.Errorf("%s: a callback got an empty value", bad)
					}
					return nil
				})
			},
			func() error {
				return Object([]byte(bad), func(_, v []byte) error {
					if len(v) == 0 {
						t.Errorf("%s: a callback got an empty value", bad)
					}
					return nil
				})
			},
		} {
			err := skip()
			if err == nil && slices.Contains(skipBad, bad) {
				t.Errorf("%s accepted by a skip", bad)
			}
		}
	}
	// A walk wants its own kind of value, not anything after one byte.
	if err := Array([]byte(`x1]`), func(int, []byte) error { return nil }); err == nil || !strings.Contains(err.Error(), "want an array") {
		t.Errorf("x1]: %v, want 'want an array'", err)
	}
	if err := Object([]byte(`x"a":1}`), func(_, _ []byte) error { return nil }); err == nil || !strings.Contains(err.Error(), "want an object") {
		t.Errorf(`x"a":1}: %v, want 'want an object'`, err)
	}
	// A skip reports a string's own error.
	if err := Object([]byte(`{"x":["a`+"\x01"+`"]}`), func(_, _ []byte) error { return nil }); err == nil || !strings.Contains(err.Error(), "control character") {
		t.Errorf("control character in a skipped string: %v", err)
	}
	// null is an empty walk; an error from the callback ends the walk;
	// a key with a bad escape is an error.
	for _, doc := range []string{"null", " null ", "\tnull"} {
		if err := Object([]byte(doc), func(_, _ []byte) error { t.Errorf("%q: called", doc); return nil }); err != nil {
			t.Errorf("Object(%q): %v", doc, err)
		}
		if err := Array([]byte(doc), func(int, []byte) error { t.Errorf("%q: called", doc); return nil }); err != nil {
			t.Errorf("Array(%q): %v", doc, err)
		}
	}
	stop := errors.New("stop here")
	if err := NewReader([]byte(`[1,2]`)).Array(func(int) error { return stop }); err != stop {
		t.Errorf("Array's callback error: %v", err)
	}
	if err := NewReader([]byte(`{"a":1}`)).Object(func([]byte) error { return stop }); err != stop {
		t.Errorf("Object's callback error: %v", err)
	}
	if err := Object([]byte(`{"\x":1}`), func(_, _ []byte) error { return nil }); err == nil || !strings.Contains(err.Error(), "key:") {
		t.Errorf("bad escape in a key: %v", err)
	}
	if v, ok, err := Find([]byte(" \n[7]"), []string{"0"}); string(v) != "7" || !ok || err != nil {
		t.Errorf("Find after white space = %q, %v, %v", v, ok, err)
	}
	// A value a callback leaves is skipped, and its error is its own.
	if err := NewReader([]byte(`[tru]`)).Array(func(int) error { return nil }); err == nil || !strings.Contains(err.Error(), "invalid literal") {
		t.Errorf("[tru] left to the skip: %v, want 'invalid literal'", err)
	}
	if err := NewReader([]byte(`{"a":tru}`)).Object(func([]byte) error { return nil }); err == nil || !strings.Contains(err.Error(), "invalid literal") {
		t.Errorf(`{"a":tru} left to the skip: %v, want 'invalid literal'`, err)
	}
	// Errors give the offset of the byte at fault.
	if err := Object([]byte(`{"a":"b`+"\x01"+`"}`), func(_, _ []byte) error { return nil }); err == nil || !strings.HasPrefix(err.Error(), "offset 7:") {
		t.Errorf("control character: %v, want offset 7", err)
	}
	if err := Array([]byte(`[x]`), func(int, []byte) error { return nil }); err == nil || !strings.Contains(err.Error(), "invalid character 'x' looking for a value") {
		t.Errorf("[x]: %v", err)
	}
	// The top-level walks take white space around and inside.
	for _, doc := range scanDocs {
		var err error
		if strings.TrimSpace(doc)[0] == '{' {
			err = Object([]byte(doc), func(_, _ []byte) error { return nil })
		} else {
			err = Array([]byte(doc), func(int, []byte) error { return nil })
		}
		if err != nil {
			t.Errorf("%q: %v", doc, err)
		}
	}
}

// TestReaderRest: Rest counts the input after the reader's position.
func TestReaderRest(t *testing.T) {
	in := []byte(`{"a": [1, 2], "b": 3}  `)
	rd := NewReader(in)
	if got := rd.Rest(); got != len(in) {
		t.Errorf("before reading: Rest() = %d, want %d", got, len(in))
	}
	var atB int
	err := rd.Object(func(k []byte) error {
		if string(k) == "b" {
			atB = rd.Rest()
		}
		_, err := rd.Value()
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := len(`3}  `); atB != want {
		t.Errorf("at the value of b: Rest() = %d, want %d", atB, want)
	}
	if got, want := rd.Rest(), 2; got != want {
		t.Errorf("after the object: Rest() = %d, want %d", got, want)
	}
}

// TestReaderSeek: after Seek to an offset taken before a value, the value
// reads again, whole, however far the reader got into it.
func TestReaderSeek(t *testing.T) {
	in := []byte(`{"a": {"b": [1, {"c": 2}], "d": 3}, "e": 4}`)
	rd := NewReader(in)
	var got []string
	err := rd.Object(func(k []byte) error {
		if string(k) != "a" {
			return nil
		}
		start := rd.Offset()
		errHalf := errors.New("half")
		err := rd.Object(func(k []byte) error {
			if string(k) == "d" {
				return errHalf // given up inside the value
			}
			return nil
		})
		if err != errHalf {
			t.Fatalf("inner walk: %v", err)
		}
		rd.Seek(start)
		v, err := rd.Value()
		got = append(got, string(v))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := rd.End(); err != nil {
		t.Fatal(err)
	}
	if want := []string{`{"b": [1, {"c": 2}], "d": 3}`}; len(got) != 1 || got[0] != want[0] {
		t.Errorf("value after Seek = %q, want %q", got, want)
	}
}
