package main

import (
	"context"
	"fmt"
	"go/ast"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// A mutant schema is one version of a file that holds many of its
// mutants at once, each switched on by its number in the environment
// variable schemaEnv (none when unset), so that the package's test binary
// is built once per file instead of once per mutant; building, not
// running the tests, is most of a mutant's cost. Only mutants whose switch
// keeps the original's evaluation exactly are put in the schema:
//
//	X op Y    →  (on(1) && ((X) op1 (Y)) || none(1) && ((X) op (Y)))   operands evaluated once, in one branch
//	!X        →  (on(1) != !(X))
//	S         →  if !on(1) { S }                                       a statement removed
//	range X   →  range sidecarkitSchemaReverse(1, X)                   a slice reversed when on
//	K: V      →  K: sidecarkitSchemaField(1, V)                        V's zero value when on (struct literals,
//	                                                                   V without calls that could have effects)
//
// Every other mutant (arithmetic, ++/--, a counting loop reversed, a field
// of a map literal or with a value that calls out), and any whose schema
// does not type-check, is tested on its own through an overlay.
const schemaEnv = "SIDECARKIT_MUTANT"

// siteKind is how a schema switches a mutant; siteNone: it cannot.
type siteKind int

const (
	siteNone siteKind = iota
	siteBinary
	siteNot
	siteRemove
	siteRangeValue
	siteRangeKey
	siteField
)

// schemaHelperSource is the file added to the package with a schema.
func schemaHelperSource(pkg string) string {
	return "package " + pkg + `

import (
	"os"
	"strconv"
)

var sidecarkitSchemaMutant = func() int {
	n, err := strconv.Atoi(os.Getenv("` + schemaEnv + `"))
	if err != nil {
		return 0
	}
	return n
}()

func sidecarkitSchemaOn(id int) bool { return sidecarkitSchemaMutant == id }

func sidecarkitSchemaNone(ids ...int) bool {
	for _, id := range ids {
		if sidecarkitSchemaMutant == id {
			return false
		}
	}
	return true
}

func sidecarkitSchemaReverse[E any](id int, s []E) []E {
	if sidecarkitSchemaMutant != id {
		return s
	}
	r := make([]E, len(s))
	for i := range s {
		r[len(s)-1-i] = s[i]
	}
	return r
}

func sidecarkitSchemaField[T any](id int, v T) T {
	if sidecarkitSchemaMutant == id {
		var zero T
		return zero
	}
	return v
}

func sidecarkitSchemaIndexes(id, n int) []int {
	r := make([]int, n)
	for i := range r {
		r[i] = i
		if sidecarkitSchemaMutant == id {
			r[i] = n - 1 - i
		}
	}
	return r
}
`
}

const schemaHelperFile = "zz_sidecarkit_mutate_schema.go"

// schemaSite is a node of the file with the mutants switched there.
type schemaSite struct {
	start, end int
	node       ast.Node
	kind       siteKind
	mutants    []*Mutant
}

// buildSchema returns the source of the file with the mutants ms (of
// kinds the schema supports, each already numbered) switched in.
func buildSchema(src []byte, ms []*Mutant, span func(n ast.Node) (int, int)) string {
	byNode := map[ast.Node]*schemaSite{}
	var sites []*schemaSite
	for _, m := range ms {
		s := byNode[m.node]
		if s == nil || s.kind != m.kind {
			st, en := span(m.node)
			switch m.kind {
			case siteRangeValue:
				st, en = span(m.node.(*ast.RangeStmt).X)
			case siteRangeKey:
				r := m.node.(*ast.RangeStmt)
				st, _ = span(r.Key)
				_, en = span(r.X)
			case siteField:
				st, en = span(m.node.(*ast.KeyValueExpr).Value)
			}
			s = &schemaSite{start: st, end: en, node: m.node, kind: m.kind}
			byNode[m.node] = s
			sites = append(sites, s)
		}
		s.mutants = append(s.mutants, m)
	}
	// Outer sites first: by start, then the longer first; a site with the
	// same span as an earlier one is inside it.
	sort.SliceStable(sites, func(i, j int) bool {
		if sites[i].start != sites[j].start {
			return sites[i].start < sites[j].start
		}
		return sites[i].end > sites[j].end
	})
	r := &renderer{src: src, sites: sites, span: span}
	return r.render(0, len(src), -1)
}

type renderer struct {
	src   []byte
	sites []*schemaSite
	span  func(n ast.Node) (int, int)
}

// render returns src[lo:hi] with the sites after index after in it
// switched; a site inside one already rendered is rendered by it.
func (r *renderer) render(lo, hi, after int) string {
	var b strings.Builder
	pos := lo
	for i := after + 1; i < len(r.sites); i++ {
		s := r.sites[i]
		if s.start < pos || s.end > hi {
			continue
		}
		b.Write(r.src[pos:s.start])
		b.WriteString(r.site(i))
		pos = s.end
	}
	b.Write(r.src[pos:hi])
	return b.String()
}

func (r *renderer) sub(n ast.Node, i int) string {
	st, en := r.span(n)
	return r.render(st, en, i)
}

func (r *renderer) site(i int) string {
	s := r.sites[i]
	ids := make([]string, len(s.mutants))
	for k, m := range s.mutants {
		ids[k] = strconv.Itoa(m.id)
	}
	switch s.kind {
	case siteBinary:
		be := s.node.(*ast.BinaryExpr)
		x, y := "("+r.sub(be.X, i)+")", "("+r.sub(be.Y, i)+")"
		var b strings.Builder
		b.WriteString("(")
		for _, m := range s.mutants {
			fmt.Fprintf(&b, "sidecarkitSchemaOn(%d) && (%s %s %s) || ", m.id, x, m.Repl, y)
		}
		fmt.Fprintf(&b, "sidecarkitSchemaNone(%s) && (%s %s %s))", strings.Join(ids, ", "), x, be.Op, y)
		return b.String()
	case siteNot:
		ue := s.node.(*ast.UnaryExpr)
		return fmt.Sprintf("(sidecarkitSchemaOn(%s) != !(%s))", ids[0], r.sub(ue.X, i))
	case siteRemove:
		return fmt.Sprintf("if !sidecarkitSchemaOn(%s) { %s }", ids[0], r.render(s.start, s.end, i))
	case siteRangeValue:
		return fmt.Sprintf("sidecarkitSchemaReverse(%s, %s)", ids[0], r.render(s.start, s.end, i))
	case siteField:
		return fmt.Sprintf("sidecarkitSchemaField(%s, %s)", ids[0], r.render(s.start, s.end, i))
	case siteRangeKey:
		rs := s.node.(*ast.RangeStmt)
		return fmt.Sprintf("_, %s %s range sidecarkitSchemaIndexes(%s, len(%s))", r.sub(rs.Key, i), rs.Tok, ids[0], r.sub(rs.X, i))
	}
	panic("unknown site kind")
}

// buildSchemaBinary builds the package's test binary with file's schema
// of ms in sdir, after checking that the schema type-checks and that the
// binary passes with no mutant on. It numbers the mutants it switches
// (id ≥ 1) and returns the others, to be tested one by one; bin is ""
// when no schema could be used.
func buildSchemaBinary(ctx context.Context, c *config, p *pkgInfo, dir string, srcs map[string][]byte, file string, ms []*Mutant, sdir string, timeout time.Duration) (bin string, fallback []*Mutant) {
	orig := filepath.Join(c.root, filepath.FromSlash(file))
	src := srcs[orig]
	for k, m := range ms {
		m.id = k + 1
	}
	span := func(n ast.Node) (int, int) {
		return p.fset.Position(n.Pos()).Offset, p.fset.Position(n.End()).Offset
	}
	extra := map[string]string{schemaHelperFile: schemaHelperSource(p.name)}
	giveUp := func(why string) (string, []*Mutant) {
		if why != "" {
			fmt.Fprintf(os.Stderr, "mutate: %s: no schema (%s); testing its mutants one by one\n", file, why)
		}
		for _, m := range ms {
			m.id = 0
		}
		return "", ms
	}
	text := buildSchema(src, ms, span)
	if p.typeCheckWith(orig, []byte(text), extra) != nil {
		// Find the mutants whose switch does not type-check.
		var keep []*Mutant
		for _, m := range ms {
			if p.typeCheckWith(orig, []byte(buildSchema(src, []*Mutant{m}, span)), extra) == nil {
				keep = append(keep, m)
			} else {
				m.id = 0
				fallback = append(fallback, m)
			}
		}
		text = buildSchema(src, keep, span)
		if err := p.typeCheckWith(orig, []byte(text), extra); err != nil {
			return giveUp(err.Error())
		}
		ms = keep
	}
	if len(ms) == 0 {
		return "", fallback
	}
	if err := os.MkdirAll(sdir, 0o755); err != nil {
		return giveUp(err.Error())
	}
	schemaFile, helper := filepath.Join(sdir, "schema.go"), filepath.Join(sdir, "helper.go")
	if err := os.WriteFile(schemaFile, []byte(text), 0o644); err != nil {
		return giveUp(err.Error())
	}
	if err := os.WriteFile(helper, []byte(extra[schemaHelperFile]), 0o644); err != nil {
		return giveUp(err.Error())
	}
	overlay := filepath.Join(sdir, "overlay.json")
	if err := writeOverlay(overlay, map[string]string{orig: schemaFile, filepath.Join(p.dir, schemaHelperFile): helper}); err != nil {
		return giveUp(err.Error())
	}
	bin = filepath.Join(sdir, "pkg.test")
	code, out, timedOut, err := runCmd(ctx, c.root, nil, timeout, c.goCommand, "test", "-c", "-o", bin, "-vet=off", "-ldflags=-s -w", "-overlay="+overlay, "./"+dir)
	if err != nil || code != 0 || timedOut {
		switch {
		case ctx.Err() != nil:
			return giveUp("")
		case timedOut:
			return giveUp(fmt.Sprintf("build: still running after the per-mutant limit of %v (raise -timeout)", timeout))
		case err != nil:
			return giveUp(fmt.Sprintf("build: %v: %s", err, lastLines(out, 5)))
		}
		return giveUp(fmt.Sprintf("build: exit %d: %s", code, lastLines(out, 5)))
	}
	// With no mutant on, the schema is the original: its tests pass.
	if st, detail := runSchemaMutant(ctx, c, bin, p.dir, 0, timeout); st != stSurvived {
		return giveUp("the tests fail with no mutant on: " + detail)
	}
	return bin, fallback
}

// runSchemaMutant runs a schema's test binary with mutant id on, as go
// test would (in the package's directory, stopping at the first failure).
func runSchemaMutant(ctx context.Context, c *config, bin, pkgDir string, id int, timeout time.Duration) (status, string) {
	env := []string{schemaEnv + "=" + strconv.Itoa(id)}
	args := []string{"-test.count=1", "-test.failfast", "-test.timeout=" + timeout.String()}
	if c.short {
		args = append(args, "-test.short")
	}
	code, out, timedOut, err := runCmd(ctx, pkgDir, env, timeout, bin, args...)
	switch {
	case err != nil:
		return stBuildFail, err.Error()
	case timedOut || strings.Contains(out, "panic: test timed out after"):
		return stTimedOut, ""
	case code == 0:
		return stSurvived, ""
	}
	return stKilled, lastLines(out, 3)
}
