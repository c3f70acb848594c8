package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"

	yamlv3 "go.yaml.in/yaml/v3"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// maxInput bounds what sidecarctl reads from a file or stdin.
const maxInput = 64 << 20

// document is one YAML or JSON document of an input, as JSON.
type document struct {
	// source names the input and the document's position, for messages:
	// "pod.yaml" or "all.yaml (document 2)".
	source string
	json   []byte
}

// readInput reads a file, or stdin for "-".
func readInput(name string, stdin io.Reader) ([]byte, error) {
	var r io.Reader
	if name == "-" {
		r = stdin
	} else {
		f, err := os.Open(name)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, unwrapPathError(err))
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, maxInput+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", displayName(name), err)
	}
	if len(b) > maxInput {
		return nil, fmt.Errorf("%s: larger than %d MiB", displayName(name), maxInput>>20)
	}
	return b, nil
}

// readDocuments splits a YAML or JSON input into documents, converting YAML
// to JSON. Empty documents are skipped. A "List" document is expanded into
// its items.
func readDocuments(name string, stdin io.Reader) ([]document, error) {
	b, err := readInput(name, stdin)
	if err != nil {
		return nil, err
	}
	disp := displayName(name)
	var docs []document
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(b)))
	for n := 1; ; n++ {
		chunk, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", disp, err)
		}
		if len(bytes.TrimSpace(stripComments(chunk))) == 0 {
			continue
		}
		js, err := yaml.YAMLToJSON(chunk)
		if err != nil {
			return nil, fmt.Errorf("%s (document %d): %w", disp, n, err)
		}
		if bytes.Equal(bytes.TrimSpace(js), []byte("null")) {
			continue
		}
		items, isList, err := listItems(js)
		if err != nil {
			return nil, fmt.Errorf("%s (document %d): %w", disp, n, err)
		}
		// The input's field order (order.go).
		ref := inputOrder(chunk)
		if !isList {
			if js, err = reorderJSON(js, ref); err != nil {
				return nil, fmt.Errorf("%s (document %d): %w", disp, n, err)
			}
			docs = append(docs, document{json: js})
			continue
		}
		var refItems []*yamlv3.Node
		if r := deref(member(ref, "items")); r != nil && r.Kind == yamlv3.SequenceNode {
			refItems = r.Content
		}
		for i, it := range items {
			var itemRef *yamlv3.Node
			if i < len(refItems) {
				itemRef = refItems[i]
			}
			js, err := reorderJSON(it, itemRef)
			if err != nil {
				return nil, fmt.Errorf("%s (document %d): %w", disp, n, err)
			}
			docs = append(docs, document{json: js})
		}
	}
	if len(docs) == 0 {
		return nil, fmt.Errorf("%s: no documents", disp)
	}
	for i := range docs {
		docs[i].source = disp
		if len(docs) > 1 {
			docs[i].source = fmt.Sprintf("%s (document %d)", disp, i+1)
		}
	}
	return docs, nil
}

// listItems returns the items of a v1 List document.
func listItems(js []byte) ([]json.RawMessage, bool, error) {
	var head struct {
		Kind  string            `json:"kind"`
		Items []json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(js, &head); err != nil {
		return nil, false, fmt.Errorf("not an object: %w", err)
	}
	if head.Kind != "List" {
		return nil, false, nil
	}
	return head.Items, true, nil
}

func stripComments(b []byte) []byte {
	var out []byte
	for _, line := range bytes.Split(b, []byte("\n")) {
		t := bytes.TrimSpace(line)
		if len(t) == 0 || t[0] == '#' || bytes.Equal(t, []byte("---")) {
			continue
		}
		out = append(out, line...)
		out = append(out, '\n')
	}
	return out
}

func displayName(name string) string {
	if name == "-" {
		return "<stdin>"
	}
	return name
}

// unwrapPathError drops the path from an *os.PathError, which callers
// already name.
func unwrapPathError(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}
