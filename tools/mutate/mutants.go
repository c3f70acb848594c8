package main

import (
	"fmt"
	"go/ast"
	"go/token"
	"go/types"
	"sort"
	"strings"
)

// The operators. Each name is the key the equivalent-mutant list uses.
const (
	opBoundary = "CONDITIONALS_BOUNDARY" // < ↔ <=, > ↔ >=
	opNegation = "CONDITIONALS_NEGATION" // == ↔ !=, < ↔ >=, > ↔ <=
	opLogical  = "INVERT_LOGICAL"        // && ↔ ||
	opNot      = "REMOVE_NOT"            // !x → x
	opIncDec   = "INCREMENT_DECREMENT"   // ++ ↔ --, += ↔ -=
	opArith    = "ARITHMETIC_BASE"       // + ↔ -, * ↔ /, % → *
	opRemove   = "REMOVE_STATEMENT"      // a call, an assignment, an early return, break or continue removed
	opReverse  = "REVERSE_LOOP"          // a loop over a slice or an index range runs backwards
	opField    = "REMOVE_FIELD"          // a Key: value element of a composite literal removed (the zero value instead)
	helperFile = "zz_sidecarkit_mutate_helper.go"
)

// allOps lists the operators in the order their names are documented.
var allOps = []string{opBoundary, opNegation, opLogical, opNot, opIncDec, opArith, opRemove, opReverse, opField}

// Mutant is one small change to one file: the bytes [Start, End) of the
// file are replaced by Repl.
type Mutant struct {
	File       string // path relative to the repository root, slash-separated
	Line, Col  int    // where the change starts (1-based)
	Op         string // operator name
	Start, End int    // byte offsets in the original file
	Repl       string
	Orig       string // the bytes replaced
	Helper     bool   // Repl calls the reverse helpers (added to the package by overlay)
	LineText   string // the original line, trimmed

	// For the mutant schema (schema.go): the node the mutant changes
	// and what it becomes there; node is nil for mutants only ever
	// tested one by one.
	node ast.Node
	kind siteKind
	id   int // the mutant's number in its schema, from 1
}

// Key is the mutant's key in the equivalent-mutant list.
func (m *Mutant) Key() string { return fmt.Sprintf("%s:%d:%d:%s", m.File, m.Line, m.Col, m.Op) }

// Change describes the change in one line.
func (m *Mutant) Change() string {
	return fmt.Sprintf("%s → %s", oneLine(m.Orig), oneLine(m.Repl))
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 60 {
		s = s[:57] + "..."
	}
	if s == "" {
		return "(nothing)"
	}
	return s
}

// helperSource is the file added, by overlay, to the package of a mutant
// that reverses a loop. Generic functions need Go 1.18, which every module
// here exceeds; the names are unlikely to clash, and a clash is caught by
// the type check like any other invalid mutant.
func helperSource(pkg string) string {
	return "package " + pkg + `

func sidecarkitMutateReverse[E any](s []E) []E {
	r := make([]E, len(s))
	for i := range s {
		r[len(s)-1-i] = s[i]
	}
	return r
}

func sidecarkitMutateDown(n int) []int {
	r := make([]int, n)
	for i := range r {
		r[i] = n - 1 - i
	}
	return r
}
`
}

// generate returns the mutants of one parsed file, sorted by position.
// Only code inside function bodies is mutated: package-level declarations
// have no coverage blocks, and mutating them mostly breaks compilation.
func generate(fset *token.FileSet, f *ast.File, src []byte, rel string, ops map[string]bool, info *types.Info) []*Mutant {
	g := &gen{fset: fset, src: src, rel: rel, ops: ops, info: info}
	for _, d := range f.Decls {
		fd, ok := d.(*ast.FuncDecl)
		if !ok || fd.Body == nil {
			continue
		}
		g.funcBody(fd.Body)
	}
	sort.SliceStable(g.out, func(i, j int) bool {
		a, b := g.out[i], g.out[j]
		if a.Start != b.Start {
			return a.Start < b.Start
		}
		if a.Op != b.Op {
			return a.Op < b.Op
		}
		return a.Repl < b.Repl
	})
	return g.out
}

type gen struct {
	fset *token.FileSet
	src  []byte
	rel  string
	ops  map[string]bool
	info *types.Info // may be nil
	out  []*Mutant
}

func (g *gen) off(p token.Pos) int { return g.fset.Position(p).Offset }

func (g *gen) text(from, to token.Pos) string { return string(g.src[g.off(from):g.off(to)]) }

func (g *gen) add(op string, from, to token.Pos, repl string, helper bool) *Mutant {
	if !g.ops[op] {
		return nil
	}
	p := g.fset.Position(from)
	start, end := p.Offset, g.off(to)
	m := &Mutant{
		File: g.rel, Line: p.Line, Col: p.Column, Op: op,
		Start: start, End: end, Repl: repl, Orig: string(g.src[start:end]),
		Helper: helper, LineText: lineText(g.src, start),
	}
	if m.Orig == m.Repl {
		return nil
	}
	g.out = append(g.out, m)
	return m
}

// site marks m, when not nil, as a mutant of node that the schema can
// switch on.
func site(m *Mutant, node ast.Node, kind siteKind) {
	if m != nil {
		m.node, m.kind = node, kind
	}
}

func lineText(src []byte, off int) string {
	s := off
	for s > 0 && src[s-1] != '\n' {
		s--
	}
	e := off
	for e < len(src) && src[e] != '\n' {
		e++
	}
	return strings.TrimSpace(string(src[s:e]))
}

// funcBody mutates a function body; its last statement is not removed (a
// trailing return removed is either invalid or, bare, equivalent).
func (g *gen) funcBody(b *ast.BlockStmt) {
	g.block(b.List, true)
}

func (g *gen) block(list []ast.Stmt, funcTop bool) {
	for i, s := range list {
		last := funcTop && i == len(list)-1
		g.removable(s, last)
		g.stmt(s)
	}
}

// removable adds the REMOVE_STATEMENT mutant of s when s is a statement
// whose removal compiles in most cases and changes behaviour: a call, an
// assignment to existing variables, ++/--, an early return, break,
// continue. Declarations (:=) are kept: removing them never compiles.
func (g *gen) removable(s ast.Stmt, last bool) {
	var m *Mutant
	switch st := s.(type) {
	case *ast.ExprStmt:
		if _, ok := st.X.(*ast.CallExpr); ok {
			m = g.add(opRemove, s.Pos(), s.End(), "", false)
		}
	case *ast.AssignStmt:
		if st.Tok != token.DEFINE {
			m = g.add(opRemove, s.Pos(), s.End(), "", false)
		}
	case *ast.IncDecStmt:
		m = g.add(opRemove, s.Pos(), s.End(), "", false)
	case *ast.ReturnStmt:
		if !last {
			m = g.add(opRemove, s.Pos(), s.End(), "", false)
		}
	case *ast.BranchStmt:
		if st.Tok == token.BREAK || st.Tok == token.CONTINUE {
			m = g.add(opRemove, s.Pos(), s.End(), "", false)
		}
	}
	site(m, s, siteRemove)
}

func (g *gen) stmt(s ast.Stmt) {
	switch s := s.(type) {
	case *ast.BlockStmt:
		g.block(s.List, false)
	case *ast.ExprStmt:
		g.expr(s.X)
	case *ast.AssignStmt:
		g.assign(s)
	case *ast.IncDecStmt:
		g.expr(s.X)
		if s.Tok == token.INC {
			g.add(opIncDec, s.TokPos, s.TokPos+2, "--", false)
		} else {
			g.add(opIncDec, s.TokPos, s.TokPos+2, "++", false)
		}
	case *ast.ReturnStmt:
		for _, e := range s.Results {
			g.expr(e)
		}
	case *ast.IfStmt:
		if s.Init != nil {
			g.stmt(s.Init)
		}
		g.expr(s.Cond)
		g.block(s.Body.List, false)
		if s.Else != nil {
			g.stmt(s.Else)
		}
	case *ast.ForStmt:
		g.reverseFor(s)
		if s.Init != nil {
			g.stmt(s.Init)
		}
		if s.Cond != nil {
			g.expr(s.Cond)
		}
		if s.Post != nil {
			g.stmt(s.Post)
		}
		g.block(s.Body.List, false)
	case *ast.RangeStmt:
		g.reverseRange(s)
		g.expr(s.X)
		g.block(s.Body.List, false)
	case *ast.SwitchStmt:
		if s.Init != nil {
			g.stmt(s.Init)
		}
		if s.Tag != nil {
			g.expr(s.Tag)
		}
		g.clauses(s.Body)
	case *ast.TypeSwitchStmt:
		if s.Init != nil {
			g.stmt(s.Init)
		}
		g.clauses(s.Body)
	case *ast.SelectStmt:
		for _, c := range s.Body.List {
			if cc, ok := c.(*ast.CommClause); ok {
				g.block(cc.Body, false)
			}
		}
	case *ast.LabeledStmt:
		g.stmt(s.Stmt)
	case *ast.DeferStmt:
		g.expr(s.Call)
	case *ast.GoStmt:
		g.expr(s.Call)
	case *ast.DeclStmt:
		if gd, ok := s.Decl.(*ast.GenDecl); ok {
			for _, sp := range gd.Specs {
				if vs, ok := sp.(*ast.ValueSpec); ok {
					for _, v := range vs.Values {
						g.expr(v)
					}
				}
			}
		}
	case *ast.SendStmt:
		g.expr(s.Value)
	}
}

func (g *gen) clauses(body *ast.BlockStmt) {
	for _, c := range body.List {
		cc, ok := c.(*ast.CaseClause)
		if !ok {
			continue
		}
		for _, e := range cc.List {
			g.expr(e)
		}
		g.block(cc.Body, false)
	}
}

func (g *gen) assign(s *ast.AssignStmt) {
	for _, e := range s.Rhs {
		g.expr(e)
	}
	swap := map[token.Token]string{token.ADD_ASSIGN: "-=", token.SUB_ASSIGN: "+="}
	if r, ok := swap[s.Tok]; ok {
		g.add(opIncDec, s.TokPos, s.TokPos+2, r, false)
	}
}

var (
	boundary = map[token.Token]string{token.LSS: "<=", token.LEQ: "<", token.GTR: ">=", token.GEQ: ">"}
	negation = map[token.Token]string{token.EQL: "!=", token.NEQ: "==", token.LSS: ">=", token.LEQ: ">", token.GTR: "<=", token.GEQ: "<"}
	logical  = map[token.Token]string{token.LAND: "||", token.LOR: "&&"}
	arith    = map[token.Token]string{token.ADD: "-", token.SUB: "+", token.MUL: "/", token.QUO: "*", token.REM: "*"}
)

func (g *gen) expr(e ast.Expr) {
	ast.Inspect(e, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.FuncLit:
			g.block(n.Body.List, false)
			return false
		case *ast.BinaryExpr:
			op := n.OpPos
			l := token.Pos(len(n.Op.String()))
			if r, ok := boundary[n.Op]; ok {
				site(g.add(opBoundary, op, op+l, r, false), n, siteBinary)
			}
			if r, ok := negation[n.Op]; ok {
				site(g.add(opNegation, op, op+l, r, false), n, siteBinary)
			}
			if r, ok := logical[n.Op]; ok {
				site(g.add(opLogical, op, op+l, r, false), n, siteBinary)
			}
			if r, ok := arith[n.Op]; ok && !isStringLit(n.X) && !isStringLit(n.Y) {
				g.add(opArith, op, op+l, r, false)
			}
		case *ast.CompositeLit:
			g.fields(n)
		case *ast.UnaryExpr:
			if n.Op == token.NOT {
				site(g.add(opNot, n.OpPos, n.OpPos+1, "", false), n, siteNot)
			}
		}
		return true
	})
}

// fields removes each Key: value element of a composite literal, with
// the comma after it: an option or a field dropped on the way, the field
// then holding its zero value.
func (g *gen) fields(n *ast.CompositeLit) {
	for i, e := range n.Elts {
		if _, ok := e.(*ast.KeyValueExpr); !ok {
			continue
		}
		end := e.End()
		if i+1 < len(n.Elts) {
			end = n.Elts[i+1].Pos()
		} else if o := g.off(end); o < len(g.src) && g.src[o] == ',' {
			end++
		}
		m := g.add(opField, e.Pos(), end, "", false)
		if g.isStruct(n) && g.pure(e.(*ast.KeyValueExpr).Value) {
			site(m, e, siteField)
		}
	}
}

// isStruct reports whether n is a struct literal (removing a map entry is
// not setting a zero value, so map literals have no schema switch).
func (g *gen) isStruct(n *ast.CompositeLit) bool {
	if g.info == nil {
		return false
	}
	tv, ok := g.info.Types[n]
	if !ok {
		return false
	}
	t := tv.Type
	if p, ok := t.Underlying().(*types.Pointer); ok {
		t = p.Elem()
	}
	_, ok = t.Underlying().(*types.Struct)
	return ok
}

// pure reports whether evaluating e has no effect but its value: a schema
// evaluates a removed field's value, which the mutant does not. Calls are
// pure when they are conversions or calls of fmt, strconv, strings,
// errors or builtins.
func (g *gen) pure(e ast.Expr) bool {
	ok := true
	ast.Inspect(e, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.FuncLit:
			return false // not called here
		case *ast.CallExpr:
			if !g.pureCall(n) {
				ok = false
			}
		case *ast.UnaryExpr:
			if n.Op == token.ARROW {
				ok = false
			}
		}
		return ok
	})
	return ok
}

func (g *gen) pureCall(c *ast.CallExpr) bool {
	if g.info == nil {
		return false
	}
	if tv, ok := g.info.Types[c.Fun]; ok && (tv.IsType() || tv.IsBuiltin()) {
		return true
	}
	var id *ast.Ident
	switch f := c.Fun.(type) {
	case *ast.Ident:
		id = f
	case *ast.SelectorExpr:
		id = f.Sel
	default:
		return false
	}
	fn, ok := g.info.Uses[id].(*types.Func)
	if !ok || fn.Pkg() == nil {
		return false
	}
	switch fn.Pkg().Path() {
	case "fmt", "strconv", "strings", "errors":
		return true
	}
	return false
}

func isStringLit(e ast.Expr) bool {
	b, ok := e.(*ast.BasicLit)
	return ok && b.Kind == token.STRING
}

// reverseRange makes a range loop over a slice run backwards: a loop over
// values only ranges over a reversed copy; a loop over indices only
// ranges over the indices counted down. A loop over both is left alone
// (reversing it would need the body rewritten). Ranging over anything but
// a slice fails the type check and is dropped.
func (g *gen) reverseRange(s *ast.RangeStmt) {
	if s.Tok == token.ILLEGAL || s.Key == nil {
		return
	}
	if g.info != nil {
		// Slices only: a map, string or channel ranges otherwise.
		if tv, ok := g.info.Types[s.X]; !ok || !isSlice(tv.Type) {
			return
		}
	}
	keyBlank := isBlank(s.Key)
	x := g.text(s.X.Pos(), s.X.End())
	switch {
	case s.Value != nil && keyBlank:
		site(g.add(opReverse, s.X.Pos(), s.X.End(), "sidecarkitMutateReverse("+x+")", true), s, siteRangeValue)
	case s.Value == nil && !keyBlank:
		// for i := range X  →  for _, i := range sidecarkitMutateDown(len(X))
		site(g.add(opReverse, s.Key.Pos(), s.X.End(),
			"_, "+g.text(s.Key.Pos(), s.Key.End())+" "+s.Tok.String()+" range sidecarkitMutateDown(len("+x+"))", true), s, siteRangeKey)
	}
}

func isSlice(t types.Type) bool {
	_, ok := t.Underlying().(*types.Slice)
	return ok
}

func isBlank(e ast.Expr) bool {
	id, ok := e.(*ast.Ident)
	return ok && id.Name == "_"
}

// reverseFor turns a counting loop around:
//
//	for i := A; i < B; i++   →  for i := B - 1; i >= A; i--
//	for i := A; i <= B; i++  →  for i := B; i >= A; i--
//	for i := A; i >= B; i--  →  for i := B; i <= A; i++
//	for i := A; i > B; i--   →  for i := B + 1; i <= A; i++
//
// The bound is then evaluated once, not on every iteration; loops whose
// bound changes in the body are not of this shape in practice.
func (g *gen) reverseFor(s *ast.ForStmt) {
	init, ok := s.Init.(*ast.AssignStmt)
	if !ok || init.Tok != token.DEFINE || len(init.Lhs) != 1 || len(init.Rhs) != 1 {
		return
	}
	id, ok := init.Lhs[0].(*ast.Ident)
	if !ok {
		return
	}
	cond, ok := s.Cond.(*ast.BinaryExpr)
	if !ok {
		return
	}
	if cid, ok := cond.X.(*ast.Ident); !ok || cid.Name != id.Name {
		return
	}
	post, ok := s.Post.(*ast.IncDecStmt)
	if !ok {
		return
	}
	if pid, ok := post.X.(*ast.Ident); !ok || pid.Name != id.Name {
		return
	}
	a := g.text(init.Rhs[0].Pos(), init.Rhs[0].End())
	b := g.text(cond.Y.Pos(), cond.Y.End())
	v := id.Name
	var header string
	switch {
	case post.Tok == token.INC && cond.Op == token.LSS:
		header = fmt.Sprintf("%s := (%s) - 1; %s >= %s; %s--", v, b, v, a, v)
	case post.Tok == token.INC && cond.Op == token.LEQ:
		header = fmt.Sprintf("%s := %s; %s >= %s; %s--", v, b, v, a, v)
	case post.Tok == token.DEC && cond.Op == token.GEQ:
		header = fmt.Sprintf("%s := %s; %s <= %s; %s++", v, b, v, a, v)
	case post.Tok == token.DEC && cond.Op == token.GTR:
		header = fmt.Sprintf("%s := (%s) + 1; %s <= %s; %s++", v, b, v, a, v)
	default:
		return
	}
	g.add(opReverse, s.Init.Pos(), s.Post.End(), header, false)
}
