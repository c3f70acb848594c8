package jsontree

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ErrDuplicateKey is returned by Decode for an object with a repeated
// member name: appliers disagree on which one wins.
var ErrDuplicateKey = errors.New("duplicate object key")

// ErrSyntax is returned by Decode for data that is not exactly one JSON
// value.
var ErrSyntax = errors.New("invalid JSON")

// maxDepth bounds nesting like encoding/json does.
const maxDepth = 10000

// Decode parses exactly one JSON value (surrounding white space allowed).
// Numbers keep their text, objects their member order; strings are decoded
// as encoding/json decodes them. A repeated member name is an error
// wrapping ErrDuplicateKey, anything that encoding/json rejects one
// wrapping ErrSyntax.
func Decode(data []byte) (*Node, error) {
	if !json.Valid(data) {
		var v interface{}
		err := json.Unmarshal(data, &v)
		return nil, fmt.Errorf("jsontree: %w: %v", ErrSyntax, err)
	}
	p := parser{data: data}
	return p.value(nil)
}

// parser reads data that json.Valid accepted, so it checks only what
// Valid does not: repeated keys and nesting depth.
type parser struct {
	data []byte
	pos  int
}

func (p *parser) space() {
	for p.pos < len(p.data) {
		switch p.data[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func (p *parser) value(at []string) (*Node, error) {
	if len(at) > maxDepth {
		return nil, fmt.Errorf("jsontree: nesting deeper than %d", maxDepth)
	}
	p.space()
	switch c := p.data[p.pos]; c {
	case '{':
		p.pos++
		n := &Node{kind: Object, members: map[string]*Node{}}
		p.space()
		if p.data[p.pos] == '}' {
			p.pos++
			return n, nil
		}
		for {
			p.space()
			k := p.str()
			if _, dup := n.members[k]; dup {
				return nil, fmt.Errorf("jsontree: %w %q at %q", ErrDuplicateKey, k, Join(at))
			}
			p.space()
			p.pos++ // ':'
			v, err := p.value(append(at, k))
			if err != nil {
				return nil, err
			}
			n.keys = append(n.keys, k)
			n.members[k] = v
			p.space()
			c := p.data[p.pos]
			p.pos++
			if c == '}' {
				return n, nil
			}
		}
	case '[':
		p.pos++
		n := &Node{kind: Array, elems: []*Node{}}
		p.space()
		if p.data[p.pos] == ']' {
			p.pos++
			return n, nil
		}
		for {
			e, err := p.value(append(at, strconv.Itoa(len(n.elems))))
			if err != nil {
				return nil, err
			}
			n.elems = append(n.elems, e)
			p.space()
			c := p.data[p.pos]
			p.pos++
			if c == ']' {
				return n, nil
			}
		}
	case '"':
		return NewString(p.str()), nil
	case 't':
		p.pos += 4
		return NewBool(true), nil
	case 'f':
		p.pos += 5
		return NewBool(false), nil
	case 'n':
		p.pos += 4
		return &Node{}, nil
	default:
		start := p.pos
		for p.pos < len(p.data) && strings.IndexByte("+-0123456789.eE", p.data[p.pos]) >= 0 {
			p.pos++
		}
		return &Node{kind: Number, scalar: string(p.data[start:p.pos])}, nil
	}
}

// str reads a string token at p.pos.
func (p *parser) str() string {
	start := p.pos
	p.pos++
	plain := true
	for {
		c := p.data[p.pos]
		if c == '\\' {
			plain = false
			p.pos += 2
			continue
		}
		p.pos++
		if c == '"' {
			break
		}
		if c >= utf8.RuneSelf {
			plain = false
		}
	}
	tok := p.data[start:p.pos]
	if plain {
		return string(tok[1 : len(tok)-1])
	}
	var s string
	_ = json.Unmarshal(tok, &s) // valid: checked by json.Valid
	return s
}
