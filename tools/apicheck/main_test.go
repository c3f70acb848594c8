package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A small module: its surface lines, the check passing on its own record
// and failing, with the change named, once the API changes.
func TestCheck(t *testing.T) {
	root := t.TempDir()
	write := func(name, text string) {
		t.Helper()
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", "module example.com/m\n\ngo 1.20\n")
	write("lib/lib.go", `package lib

// Opt is sealed.
type Opt interface{ apply() }

// T is a type.
type T struct {
	Name string
	hidden int
}

// Get gets.
func (t *T) Get(key string, n ...int) (string, error) { return "", nil }

const Max = 3

func New(name string) *T { return &T{Name: name} }
`)
	write("internal/x/x.go", "package x\n\nfunc Hidden() {}\n")
	var out, errs bytes.Buffer
	if code := run([]string{"-root", root, "-w"}, &out, &errs); code != 0 {
		t.Fatalf("-w: exit %d: %s", code, errs.String())
	}
	rec, err := os.ReadFile(filepath.Join(root, recordPath))
	if err != nil {
		t.Fatal(err)
	}
	want := `pkg example.com/m/lib, const Max untyped int = 3
pkg example.com/m/lib, func New(string) *T
pkg example.com/m/lib, method (*T) Get(string, ...int) (string, error)
pkg example.com/m/lib, type Opt interface { apply (unexported) }
pkg example.com/m/lib, type T struct
pkg example.com/m/lib, type T struct, Name string
`
	if string(rec) != want {
		t.Errorf("record:\n%s\nwant:\n%s", rec, want)
	}
	if code := run([]string{"-root", root}, &out, &errs); code != 0 {
		t.Fatalf("check of an unchanged API: exit %d: %s", code, errs.String())
	}
	write("lib/lib.go", strings.Replace(mustRead(t, filepath.Join(root, "lib/lib.go")), "func New(name string) *T", "func New(name string, size int) *T", 1))
	errs.Reset()
	if code := run([]string{"-root", root}, &out, &errs); code != 1 {
		t.Fatalf("check of a changed API: exit %d, want 1", code)
	}
	for _, w := range []string{"- pkg example.com/m/lib, func New(string) *T    (incompatible", "+ pkg example.com/m/lib, func New(string, int) *T"} {
		if !strings.Contains(errs.String(), w) {
			t.Errorf("report %q lacks %q", errs.String(), w)
		}
	}
}

func mustRead(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
