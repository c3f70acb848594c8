// Command apicheck records the library's public API and checks that it has
// not changed without the record: the compatibility gate of the v1 API
// (see CONTRIBUTING.md).
//
// Usage, from the repository root:
//
//	go run -C tools/apicheck . -root ../..        # check: exit 1 on a difference
//	go run -C tools/apicheck . -root ../.. -w     # rewrite api/sidecarkit.txt
//
// The record, api/sidecarkit.txt, lists every exported name of the library's
// public packages (every package of the root module outside internal/ and
// testdata) with its type, one line each, in the format of the Go
// project's own api/*.txt files ("pkg P, func F(int) error"). The check
// loads the packages with go/types, renders the same lines and compares:
// a line of the record that is gone or changed is an incompatible change,
// a new line a compatible one. Either fails the check until the record is
// rewritten in the same commit, so that every change of the surface is
// reviewed as such.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"go/types"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/tools/go/packages"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

const recordPath = "api/sidecarkit.txt"

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("apicheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	root := fs.String("root", ".", "the repository root (the library module's directory)")
	write := fs.Bool("w", false, "rewrite the record instead of checking it")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	lines, err := surface(*root)
	if err != nil {
		fmt.Fprintln(stderr, "apicheck:", err)
		return 1
	}
	got := []byte(strings.Join(lines, "\n") + "\n")
	path := filepath.Join(*root, recordPath)
	if *write {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			fmt.Fprintln(stderr, "apicheck:", err)
			return 1
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			fmt.Fprintln(stderr, "apicheck:", err)
			return 1
		}
		fmt.Fprintf(stdout, "apicheck: wrote %s (%d exported names)\n", recordPath, len(lines))
		return 0
	}
	want, err := os.ReadFile(path)
	if err != nil {
		fmt.Fprintf(stderr, "apicheck: %v (create it with -w)\n", err)
		return 1
	}
	if bytes.Equal(want, got) {
		fmt.Fprintf(stdout, "apicheck: the public API matches %s (%d exported names)\n", recordPath, len(lines))
		return 0
	}
	removed, added := compare(strings.Split(strings.TrimSuffix(string(want), "\n"), "\n"), lines)
	fmt.Fprintf(stderr, "apicheck: the public API differs from %s:\n", recordPath)
	for _, l := range removed {
		fmt.Fprintf(stderr, "  - %s    (incompatible: gone or changed)\n", l)
	}
	for _, l := range added {
		fmt.Fprintf(stderr, "  + %s\n", l)
	}
	fmt.Fprintf(stderr, "apicheck: if the change is meant, rewrite the record in the same commit:\n  go run -C tools/apicheck . -root ../.. -w\nand follow CONTRIBUTING.md (an incompatible change needs a new major version once v1 is released).\n")
	return 1
}

// compare returns the lines of want missing from got and those of got
// missing from want.
func compare(want, got []string) (removed, added []string) {
	in := func(l []string) map[string]bool {
		m := make(map[string]bool, len(l))
		for _, x := range l {
			m[x] = true
		}
		return m
	}
	w, g := in(want), in(got)
	for _, l := range want {
		if !g[l] && l != "" {
			removed = append(removed, l)
		}
	}
	for _, l := range got {
		if !w[l] {
			added = append(added, l)
		}
	}
	return removed, added
}

// surface loads the public packages of the module at root and returns
// their API lines, sorted.
func surface(root string) ([]string, error) {
	cfg := &packages.Config{
		Mode: packages.NeedName | packages.NeedTypes | packages.NeedFiles,
		Dir:  root,
		Env:  append(os.Environ(), "GOFLAGS=-mod=mod"),
	}
	pkgs, err := packages.Load(cfg, "./...")
	if err != nil {
		return nil, err
	}
	var lines []string
	for _, p := range pkgs {
		if len(p.Errors) > 0 {
			return nil, fmt.Errorf("%s: %v", p.PkgPath, p.Errors[0])
		}
		if isPrivate(p.PkgPath) {
			continue
		}
		lines = append(lines, packageLines(p.Types)...)
	}
	sort.Strings(lines)
	return lines, nil
}

// isPrivate reports whether a package is not part of the public API:
// internal packages, and main packages.
func isPrivate(path string) bool {
	for _, e := range strings.Split(path, "/") {
		if e == "internal" || e == "testdata" {
			return true
		}
	}
	return false
}

func packageLines(p *types.Package) []string {
	if p.Name() == "main" {
		return nil
	}
	qual := func(other *types.Package) string {
		if other == p {
			return ""
		}
		return other.Path()
	}
	prefix := "pkg " + p.Path() + ", "
	var out []string
	add := func(s string) { out = append(out, prefix+s) }
	scope := p.Scope()
	for _, name := range scope.Names() {
		obj := scope.Lookup(name)
		if !obj.Exported() {
			continue
		}
		switch o := obj.(type) {
		case *types.Const:
			// The value is part of the contract (a mode name, a limit),
			// but not a long text such as a usage message.
			if v := o.Val().ExactString(); len(v) <= 80 {
				add(fmt.Sprintf("const %s %s = %s", o.Name(), types.TypeString(o.Type(), qual), v))
			} else {
				add(fmt.Sprintf("const %s %s", o.Name(), types.TypeString(o.Type(), qual)))
			}
		case *types.Var:
			add(fmt.Sprintf("var %s %s", o.Name(), types.TypeString(o.Type(), qual)))
		case *types.Func:
			add("func " + o.Name() + sigString(o.Type().(*types.Signature), qual))
		case *types.TypeName:
			out = append(out, typeLines(prefix, o, qual)...)
		}
	}
	return out
}

func typeLines(prefix string, o *types.TypeName, qual types.Qualifier) []string {
	var out []string
	add := func(s string) { out = append(out, prefix+s) }
	name := o.Name()
	if o.IsAlias() {
		add(fmt.Sprintf("type %s = %s", name, types.TypeString(o.Type(), qual)))
		return out
	}
	under := o.Type().Underlying()
	switch u := under.(type) {
	case *types.Struct:
		add(fmt.Sprintf("type %s struct", name))
		for i := 0; i < u.NumFields(); i++ {
			f := u.Field(i)
			if !f.Exported() {
				continue
			}
			if f.Embedded() {
				add(fmt.Sprintf("type %s struct, embedded %s", name, types.TypeString(f.Type(), qual)))
				continue
			}
			add(fmt.Sprintf("type %s struct, %s %s", name, f.Name(), types.TypeString(f.Type(), qual)))
		}
	case *types.Interface:
		add(fmt.Sprintf("type %s interface { %s }", name, interfaceMethods(u, qual)))
	default:
		add(fmt.Sprintf("type %s %s", name, types.TypeString(under, qual)))
	}
	named, ok := o.Type().(*types.Named)
	if !ok {
		return out
	}
	for i := 0; i < named.NumMethods(); i++ {
		m := named.Method(i)
		if !m.Exported() {
			continue
		}
		sig := m.Type().(*types.Signature)
		recv := name
		if _, ptr := sig.Recv().Type().(*types.Pointer); ptr {
			recv = "*" + name
		}
		add(fmt.Sprintf("method (%s) %s%s", recv, m.Name(), sigString(sig, qual)))
	}
	return out
}

// interfaceMethods lists an interface's methods, unexported ones by
// name only (they make it impossible to implement outside the package,
// which is part of its contract).
func interfaceMethods(u *types.Interface, qual types.Qualifier) string {
	var ms []string
	for i := 0; i < u.NumMethods(); i++ {
		m := u.Method(i)
		if !m.Exported() {
			ms = append(ms, m.Name()+" (unexported)")
			continue
		}
		ms = append(ms, m.Name()+sigString(m.Type().(*types.Signature), qual))
	}
	sort.Strings(ms)
	return strings.Join(ms, "; ")
}

// sigString is a signature without its receiver and parameter names (a
// renamed parameter changes no caller), as "(int, ...string) error".
func sigString(sig *types.Signature, qual types.Qualifier) string {
	unnamed := func(t *types.Tuple) *types.Tuple {
		vs := make([]*types.Var, t.Len())
		for i := range vs {
			vs[i] = types.NewParam(0, nil, "", t.At(i).Type())
		}
		return types.NewTuple(vs...)
	}
	s := types.NewSignatureType(nil, nil, nil, unnamed(sig.Params()), unnamed(sig.Results()), sig.Variadic())
	return strings.TrimPrefix(types.TypeString(s, qual), "func")
}
