package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	yamlv3 "go.yaml.in/yaml/v3"
	sigsyaml "sigs.k8s.io/yaml"
)

// Field order. sigs.k8s.io/yaml converts YAML to JSON the way kubectl does
// (YAML 1.1 scalars: yes is true), but through Go maps, so every object
// comes out with its keys sorted. sidecarctl keeps that conversion for the
// values and takes the order of the keys from the input itself, read as a
// yaml.v3 node tree (which keeps it): reorderJSON puts each object's keys
// in the input's order, keys the input does not have (what the injection
// adds) after them in the order they have. JSON patch application
// (evanphx/json-patch/v5) keeps that order, and yamlFromJSON writes YAML
// from the JSON without going through maps. So -o yaml and -o json print
// the input's fields in the input's order.

// maxDepth bounds the nesting of the documents reorderJSON and yamlFromJSON
// walk, as encoding/json bounds its own.
const maxDepth = 10000

// node is a JSON value with its object keys in document order.
type node struct {
	keys   []string // object: the keys, in order
	vals   []*node  // object: the values of keys
	items  []*node  // array: the elements
	obj    bool
	arr    bool
	scalar interface{} // string, json.Number, bool or nil
}

// parseJSON reads one JSON value keeping the order of object keys.
func parseJSON(js []byte) (*node, error) {
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.UseNumber()
	n, err := parseValue(dec, 0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("trailing data after the JSON value")
	}
	return n, nil
}

func parseValue(dec *json.Decoder, depth int) (*node, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("nested deeper than %d", maxDepth)
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch tok {
	case json.Delim('{'):
		n := &node{obj: true}
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return nil, err
			}
			key, ok := k.(string)
			if !ok {
				return nil, fmt.Errorf("object key %v is not a string", k)
			}
			v, err := parseValue(dec, depth+1)
			if err != nil {
				return nil, err
			}
			n.keys = append(n.keys, key)
			n.vals = append(n.vals, v)
		}
		_, err := dec.Token() // }
		return n, err
	case json.Delim('['):
		n := &node{arr: true}
		for dec.More() {
			v, err := parseValue(dec, depth+1)
			if err != nil {
				return nil, err
			}
			n.items = append(n.items, v)
		}
		_, err := dec.Token() // ]
		return n, err
	}
	return &node{scalar: tok}, nil
}

// writeJSON writes n as compact JSON.
func (n *node) writeJSON(w *bytes.Buffer) error {
	switch {
	case n.obj:
		w.WriteByte('{')
		for i, k := range n.keys {
			if i > 0 {
				w.WriteByte(',')
			}
			kb, err := json.Marshal(k)
			if err != nil {
				return err
			}
			w.Write(kb)
			w.WriteByte(':')
			if err := n.vals[i].writeJSON(w); err != nil {
				return err
			}
		}
		w.WriteByte('}')
	case n.arr:
		w.WriteByte('[')
		for i, it := range n.items {
			if i > 0 {
				w.WriteByte(',')
			}
			if err := it.writeJSON(w); err != nil {
				return err
			}
		}
		w.WriteByte(']')
	default:
		b, err := json.Marshal(n.scalar)
		if err != nil {
			return err
		}
		w.Write(b)
	}
	return nil
}

// inputOrder parses one YAML (or JSON) document into a yaml.v3 node tree,
// for its key order. It returns nil when the document does not parse
// there (reorderJSON then leaves the keys as they are).
func inputOrder(chunk []byte) *yamlv3.Node {
	var doc yamlv3.Node
	if err := yamlv3.Unmarshal(chunk, &doc); err != nil || doc.Kind != yamlv3.DocumentNode || len(doc.Content) != 1 {
		return nil
	}
	return doc.Content[0]
}

// member returns the value of key in the YAML mapping m, or nil.
func member(m *yamlv3.Node, key string) *yamlv3.Node {
	m = deref(m)
	if m == nil || m.Kind != yamlv3.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// deref follows a YAML alias (*name) to its anchor.
func deref(n *yamlv3.Node) *yamlv3.Node {
	for i := 0; n != nil && n.Kind == yamlv3.AliasNode && i < 100; i++ {
		n = n.Alias
	}
	return n
}

// reorder puts n's object keys in the order of ref's mapping keys, keys
// ref does not have after them, and recurses.
func (n *node) reorder(ref *yamlv3.Node) {
	ref = deref(ref)
	if ref == nil {
		return
	}
	switch {
	case n.obj && ref.Kind == yamlv3.MappingNode:
		pos := make(map[string]int, len(ref.Content)/2)
		for i := 0; i+1 < len(ref.Content); i += 2 {
			if _, dup := pos[ref.Content[i].Value]; !dup {
				pos[ref.Content[i].Value] = i / 2
			}
		}
		idx := make([]int, len(n.keys))
		for i := range idx {
			idx[i] = i
		}
		rank := func(i int) int {
			if p, ok := pos[n.keys[i]]; ok {
				return p
			}
			return len(pos) + i
		}
		sort.SliceStable(idx, func(a, b int) bool { return rank(idx[a]) < rank(idx[b]) })
		keys := make([]string, len(idx))
		vals := make([]*node, len(idx))
		for i, j := range idx {
			keys[i], vals[i] = n.keys[j], n.vals[j]
		}
		n.keys, n.vals = keys, vals
		for i, k := range n.keys {
			n.vals[i].reorder(member(ref, k))
		}
	case n.arr && ref.Kind == yamlv3.SequenceNode:
		for i, it := range n.items {
			if i < len(ref.Content) {
				it.reorder(ref.Content[i])
			}
		}
	}
}

// reorderJSON returns js with its object keys in the order of ref (see
// the comment at the top of this file). With a nil ref it returns js.
func reorderJSON(js []byte, ref *yamlv3.Node) ([]byte, error) {
	if ref == nil {
		return js, nil
	}
	n, err := parseJSON(js)
	if err != nil {
		return nil, err
	}
	n.reorder(ref)
	var out bytes.Buffer
	if err := n.writeJSON(&out); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// strNode is the YAML node of a string, a value or a mapping key: quoted
// when kubectl would read it plain as something else.
func strNode(s string) *yamlv3.Node {
	n := &yamlv3.Node{Kind: yamlv3.ScalarNode, Tag: "!!str", Value: s}
	if misreadPlain(s) {
		n.Style = yamlv3.DoubleQuotedStyle
	}
	return n
}

// misreadPlain reports whether s, which yaml.v3 would write unquoted
// (it reads the plain scalar back as s), reads as something else the way
// kubectl reads YAML (sigs.k8s.io/yaml, YAML 1.1): "on", "yes", "y",
// "0755", "1_000" and the like, which yaml.v3's node encoder leaves plain.
func misreadPlain(s string) bool {
	if s == "" || strings.ContainsAny(s, "\n") {
		return false // quoted, or a literal block, by yaml.v3 itself
	}
	var v3 interface{}
	if yamlv3.Unmarshal([]byte(s), &v3) != nil || v3 != s {
		return false // yaml.v3 quotes it itself
	}
	js, err := sigsyaml.YAMLToJSON([]byte(s))
	if err != nil {
		return true
	}
	want, err := json.Marshal(s)
	return err != nil || !bytes.Equal(js, want)
}

// yamlFromJSON writes a JSON document as YAML, keys in the JSON's order,
// sequences at their key's indentation as kubectl prints them. Strings a
// YAML reader would take for something else ("yes", "1.0", "null") are
// quoted.
func yamlFromJSON(js []byte) ([]byte, error) {
	n, err := parseJSON(js)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	enc := yamlv3.NewEncoder(&out)
	enc.SetIndent(2)
	enc.CompactSeqIndent()
	if err := enc.Encode(n.yamlNode()); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

func (n *node) yamlNode() *yamlv3.Node {
	switch {
	case n.obj:
		m := &yamlv3.Node{Kind: yamlv3.MappingNode, Tag: "!!map"}
		if len(n.keys) == 0 {
			m.Style = yamlv3.FlowStyle
		}
		for i, k := range n.keys {
			m.Content = append(m.Content, strNode(k), n.vals[i].yamlNode())
		}
		return m
	case n.arr:
		s := &yamlv3.Node{Kind: yamlv3.SequenceNode, Tag: "!!seq"}
		if len(n.items) == 0 {
			s.Style = yamlv3.FlowStyle
		}
		for _, it := range n.items {
			s.Content = append(s.Content, it.yamlNode())
		}
		return s
	}
	switch v := n.scalar.(type) {
	case string:
		return strNode(v)
	case json.Number:
		tag := "!!int"
		if strings.ContainsAny(string(v), ".eE") {
			tag = "!!float"
		}
		return &yamlv3.Node{Kind: yamlv3.ScalarNode, Tag: tag, Value: string(v)}
	case bool:
		val := "false"
		if v {
			val = "true"
		}
		return &yamlv3.Node{Kind: yamlv3.ScalarNode, Tag: "!!bool", Value: val}
	}
	return &yamlv3.Node{Kind: yamlv3.ScalarNode, Tag: "!!null", Value: "null"}
}
