package main

import (
	"context"
	"errors"
	"fmt"
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/tools/go/packages"
)

// pkgInfo is what the type check of mutants needs of a package.
type pkgInfo struct {
	name, importPath, dir string
	fset                  *token.FileSet
	files                 map[string]*ast.File // by absolute file name: the package's non-test files
	order                 []string             // the absolute file names, in go list's order
	imports               map[string]*types.Package
	goVersion             string
	sizes                 types.Sizes
	info                  *types.Info
	std                   types.Importer // for imports the package itself lacks
}

func loadPackage(root, dir string) (*pkgInfo, error) {
	cfg := &packages.Config{
		Mode: packages.NeedName | packages.NeedFiles | packages.NeedCompiledGoFiles | packages.NeedImports | packages.NeedTypes |
			packages.NeedSyntax | packages.NeedTypesInfo | packages.NeedTypesSizes | packages.NeedModule,
		Dir: root,
	}
	pkgs, err := packages.Load(cfg, "./"+dir)
	if err != nil {
		return nil, err
	}
	if len(pkgs) != 1 {
		return nil, fmt.Errorf("want one package in %s, got %d", dir, len(pkgs))
	}
	p := pkgs[0]
	if len(p.Errors) > 0 {
		return nil, fmt.Errorf("load: %v", p.Errors[0])
	}
	info := &pkgInfo{
		name: p.Name, importPath: p.PkgPath, dir: filepath.Join(root, dir), fset: p.Fset,
		files: map[string]*ast.File{}, imports: map[string]*types.Package{}, sizes: p.TypesSizes,
		info: p.TypesInfo, std: importer.Default(),
	}
	if p.Module != nil && p.Module.GoVersion != "" {
		info.goVersion = "go" + p.Module.GoVersion
	}
	for i, f := range p.Syntax {
		name := p.CompiledGoFiles[i]
		info.files[name] = f
		info.order = append(info.order, name)
	}
	for path, ip := range p.Imports {
		info.imports[path] = ip.Types
	}
	return info, nil
}

// typeCheck reports the first type error of the package with file name
// replaced by src (and the reverse helpers added when helper is set).
func (p *pkgInfo) typeCheck(name string, src []byte, helper bool) error {
	var extra map[string]string
	if helper {
		extra = map[string]string{helperFile: helperSource(p.name)}
	}
	return p.typeCheckWith(name, src, extra)
}

// typeCheckWith reports the first type error of the package with file
// name replaced by src and the files of extra (name → source) added.
func (p *pkgInfo) typeCheckWith(name string, src []byte, extra map[string]string) error {
	// The mutated file joins the loader's file set, which holds the
	// original files' positions.
	fset := p.fset
	files := make([]*ast.File, 0, len(p.order)+1)
	for _, n := range p.order {
		if n == name {
			f, err := parser.ParseFile(fset, n, src, parser.SkipObjectResolution)
			if err != nil {
				return err
			}
			files = append(files, f)
			continue
		}
		files = append(files, p.files[n])
	}
	for n, src := range extra {
		f, err := parser.ParseFile(fset, n, src, 0)
		if err != nil {
			return err
		}
		files = append(files, f)
	}
	var first error
	conf := types.Config{
		Importer: importerFunc(func(path string) (*types.Package, error) {
			if ip := p.imports[path]; ip != nil {
				return ip, nil
			}
			// The schema helper's own imports (os, strconv).
			return p.std.Import(path)
		}),
		GoVersion: p.goVersion,
		Sizes:     p.sizes,
		Error: func(err error) {
			if first == nil {
				first = err
			}
		},
	}
	conf.Check(p.importPath, fset, files, nil)
	return first
}

type importerFunc func(path string) (*types.Package, error)

func (f importerFunc) Import(path string) (*types.Package, error) {
	p, err := f(path)
	if err == nil && p == nil {
		return nil, fmt.Errorf("package %q not imported by the original package", path)
	}
	return p, err
}

// status is a mutant's outcome.
type status string

const (
	stKilled     status = "KILLED"
	stTimedOut   status = "TIMED OUT"
	stSurvived   status = "SURVIVED"
	stUncovered  status = "NOT COVERED"
	stEquivalent status = "EQUIVALENT"
	stBuildFail  status = "BUILD FAILED"
	stNotRun     status = "NOT RUN"
)

func mutatePackage(ctx context.Context, c *config, dir string, only []string, equiv *equivalents, tmp string, deadline time.Time, out io.Writer) (summary, error) {
	start := time.Now()
	s := summary{dir: dir}
	p, err := loadPackage(c.root, dir)
	if err != nil {
		return s, err
	}
	srcs := map[string][]byte{}
	var mutants []*Mutant
	for _, name := range p.order {
		base := filepath.Base(name)
		if only != nil && !contains(only, base) {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			return s, err
		}
		srcs[name] = src
		rel, err := filepath.Rel(c.root, name)
		if err != nil {
			return s, err
		}
		ms := generate(p.fset, p.files[name], src, filepath.ToSlash(rel), c.ops, p.info)
		for _, m := range ms {
			if c.keys != nil && !c.keys[m.Key()] {
				continue
			}
			if err := p.typeCheck(name, apply(src, m), m.Helper); err != nil {
				s.invalid++
				continue
			}
			mutants = append(mutants, m)
		}
	}
	if only != nil {
		for _, f := range only {
			found := false
			for name := range srcs {
				found = found || filepath.Base(name) == f
			}
			if !found {
				return s, fmt.Errorf("%s is not a Go file of package %s (test files are not mutated)", f, dir)
			}
		}
	}
	sortMutants(mutants)
	s.total = len(mutants) + s.invalid
	if c.list {
		for _, m := range mutants {
			fmt.Fprintf(out, "%s %s | %s\n", m.Key(), m.Change(), m.LineText)
		}
		return s, nil
	}

	// The baseline: the tests pass unmutated, how long they take, and
	// which code they execute.
	cover := filepath.Join(tmp, "cover-"+strings.ReplaceAll(dir, "/", "_")+".out")
	t0 := time.Now()
	res := goTest(ctx, c, dir, "", 0, "-coverprofile="+cover)
	base := time.Since(t0)
	if res.err != nil || res.code != 0 {
		return s, fmt.Errorf("the package's tests fail without mutants:\n%s", res.output)
	}
	blocks, err := readCoverage(cover, p.importPath)
	if err != nil {
		return s, err
	}
	timeout := c.timeout
	if timeout == 0 {
		timeout = 3 * base
		if timeout < 60*time.Second {
			timeout = 60 * time.Second
		}
	}
	fmt.Fprintf(out, "%s: %d mutants (%d more did not type-check); baseline test run %s, per-mutant limit %s\n",
		dir, len(mutants), s.invalid, base.Round(100*time.Millisecond), timeout)

	statuses := make([]status, len(mutants))
	var todo []int
	for i, m := range mutants {
		switch {
		case equiv.match(m):
			statuses[i] = stEquivalent
		case !blocks.covered(filepath.Base(m.File), m.Line, m.Col):
			statuses[i] = stUncovered
		default:
			todo = append(todo, i)
		}
	}

	// The mutants a schema can switch are tested file by file, on one
	// test binary per file; the rest one by one through an overlay.
	index := map[*Mutant]int{}
	for i, m := range mutants {
		index[m] = i
	}
	byFile := map[string][]*Mutant{}
	var files []string
	var slow []int
	for _, i := range todo {
		m := mutants[i]
		if m.node == nil || m.kind == siteNone {
			slow = append(slow, i)
			continue
		}
		if byFile[m.File] == nil {
			files = append(files, m.File)
		}
		byFile[m.File] = append(byFile[m.File], m)
	}

	type job struct {
		i   int
		bin string // the schema's test binary; "" for an overlay run
	}
	work := make(chan job)
	var wg sync.WaitGroup
	var mu sync.Mutex
	report := func(i int, st status, detail string) {
		mu.Lock()
		defer mu.Unlock()
		statuses[i] = st
		if c.verbose || st == stSurvived || st == stBuildFail {
			m := mutants[i]
			fmt.Fprintf(out, "%-12s %s %s | %s\n", st, m.Key(), m.Change(), m.LineText)
			if detail != "" {
				fmt.Fprintf(out, "             %s\n", strings.ReplaceAll(strings.TrimSpace(detail), "\n", "\n             "))
			}
		}
	}
	for w := 0; w < c.parallel; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			wdir := filepath.Join(tmp, fmt.Sprintf("w%d", w))
			for j := range work {
				var st status
				var detail string
				if j.bin != "" {
					st, detail = runSchemaMutant(ctx, c, j.bin, p.dir, mutants[j.i].id, timeout)
				} else {
					st, detail = testMutant(ctx, c, p, dir, srcs, mutants[j.i], wdir, timeout)
				}
				report(j.i, st, detail)
			}
		}(w)
	}
	send := func(j job) {
		if ctx.Err() != nil || time.Now().After(deadline) {
			statuses[j.i] = stNotRun
			return
		}
		work <- j
	}
	schemaMutants := 0
	for k, file := range files {
		ms := byFile[file]
		bin, fallback := buildSchemaBinary(ctx, c, p, dir, srcs, file, ms, filepath.Join(tmp, fmt.Sprintf("schema%d", k)), timeout)
		for _, m := range fallback {
			slow = append(slow, index[m])
		}
		if bin == "" {
			continue
		}
		for _, m := range ms {
			if m.id > 0 {
				schemaMutants++
				send(job{i: index[m], bin: bin})
			}
		}
	}
	sort.Ints(slow)
	for _, i := range slow {
		send(job{i: i})
	}
	close(work)
	wg.Wait()
	fmt.Fprintf(out, "%s: %d mutants tested on per-file schemas, %d one by one\n", dir, schemaMutants, len(slow))

	for i, m := range mutants {
		switch statuses[i] {
		case stKilled:
			s.killed++
		case stTimedOut:
			s.timedOut++
		case stSurvived:
			s.survived++
		case stUncovered:
			s.uncovered++
			fmt.Fprintf(out, "%-12s %s %s | %s\n", statuses[i], m.Key(), m.Change(), m.LineText)
		case stEquivalent:
			s.equivalent++
		case stBuildFail:
			s.buildFailed++
		case stNotRun, "":
			s.notRun++
			// Listed, so that a later run can test them with -keys.
			fmt.Fprintf(out, "%-12s %s %s | %s\n", stNotRun, m.Key(), m.Change(), m.LineText)
		}
	}
	s.elapsed = time.Since(start)
	if ctx.Err() != nil {
		return s, ctx.Err()
	}
	return s, nil
}

func apply(src []byte, m *Mutant) []byte {
	out := make([]byte, 0, len(src)+len(m.Repl))
	out = append(out, src[:m.Start]...)
	out = append(out, m.Repl...)
	return append(out, src[m.End:]...)
}

// testMutant writes the mutant into wdir and runs the package's tests on
// it through an overlay.
func testMutant(ctx context.Context, c *config, p *pkgInfo, dir string, srcs map[string][]byte, m *Mutant, wdir string, timeout time.Duration) (status, string) {
	if err := os.MkdirAll(wdir, 0o755); err != nil {
		return stBuildFail, err.Error()
	}
	orig := filepath.Join(c.root, filepath.FromSlash(m.File))
	mutated := filepath.Join(wdir, "mutant.go")
	if err := os.WriteFile(mutated, apply(srcs[orig], m), 0o644); err != nil {
		return stBuildFail, err.Error()
	}
	replace := map[string]string{orig: mutated}
	if m.Helper {
		h := filepath.Join(wdir, helperFile)
		if err := os.WriteFile(h, []byte(helperSource(p.name)), 0o644); err != nil {
			return stBuildFail, err.Error()
		}
		replace[filepath.Join(p.dir, helperFile)] = h
	}
	overlay := filepath.Join(wdir, "overlay.json")
	if err := writeOverlay(overlay, replace); err != nil {
		return stBuildFail, err.Error()
	}
	// No symbol table or DWARF: the link is the costliest step.
	res := goTest(ctx, c, dir, overlay, timeout, "-failfast", "-ldflags=-s -w")
	switch {
	case errors.Is(res.err, context.DeadlineExceeded) || res.timedOut:
		return stTimedOut, ""
	case res.err != nil:
		return stBuildFail, res.err.Error()
	case res.code == 0:
		return stSurvived, ""
	case res.buildFailed:
		return stBuildFail, lastLines(res.output, 5)
	}
	return stKilled, ""
}

func lastLines(s string, n int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}
