package main

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const sampleSrc = `package sample

// Clamp limits v to [lo, hi].
func Clamp(v, lo, hi int) int {
	if v < lo {
		return lo
	}
	if v > hi {
		return hi
	}
	return v
}

// Last returns the last element of l, or 0.
func Last(l []int) int {
	out := 0
	for _, v := range l {
		out = v
	}
	return out
}

// Both reports whether a and b are set.
func Both(a, b bool) bool { return a && !b == false }

// Point is a pair.
type Point struct{ X, Y int }

// Shift moves p right by d.
func Shift(p Point, d int) Point { return Point{X: p.X + d, Y: p.Y} }
`

// The tests kill every mutant of Clamp but the boundary ones at the
// bounds (equal values give the same answer: equivalent), and every one
// of Shift; Last's reversed loop survives (a one-element list); Both is
// not tested at all.
const sampleTest = `package sample

import "testing"

func TestClamp(t *testing.T) {
	for _, c := range [][4]int{{5, 0, 10, 5}, {-1, 0, 10, 0}, {11, 0, 10, 10}} {
		if got := Clamp(c[0], c[1], c[2]); got != c[3] {
			t.Errorf("Clamp(%d, %d, %d) = %d, want %d", c[0], c[1], c[2], got, c[3])
		}
	}
}

func TestLast(t *testing.T) {
	if got := Last([]int{7}); got != 7 {
		t.Errorf("Last = %d", got)
	}
}

func TestShift(t *testing.T) {
	if got := Shift(Point{1, 2}, 3); got != (Point{4, 2}) {
		t.Errorf("Shift = %v", got)
	}
}
`

func TestGenerate(t *testing.T) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "sample.go", sampleSrc, 0)
	if err != nil {
		t.Fatal(err)
	}
	ops := map[string]bool{}
	for _, o := range allOps {
		ops[o] = true
	}
	var got []string
	for _, m := range generate(fset, f, []byte(sampleSrc), "sample.go", ops, nil) {
		got = append(got, m.Key()+" "+m.Change())
	}
	want := []string{
		"sample.go:5:7:CONDITIONALS_BOUNDARY < → <=",
		"sample.go:5:7:CONDITIONALS_NEGATION < → >=",
		"sample.go:6:3:REMOVE_STATEMENT return lo → (nothing)",
		"sample.go:8:7:CONDITIONALS_BOUNDARY > → >=",
		"sample.go:8:7:CONDITIONALS_NEGATION > → <=",
		"sample.go:9:3:REMOVE_STATEMENT return hi → (nothing)",
		"sample.go:17:20:REVERSE_LOOP l → sidecarkitMutateReverse(l)",
		"sample.go:18:3:REMOVE_STATEMENT out = v → (nothing)",
		"sample.go:24:38:INVERT_LOGICAL && → ||",
		"sample.go:24:41:REMOVE_NOT ! → (nothing)",
		"sample.go:24:44:CONDITIONALS_NEGATION == → !=",
		"sample.go:30:49:REMOVE_FIELD X: p.X + d, → (nothing)",
		"sample.go:30:56:ARITHMETIC_BASE + → -",
		"sample.go:30:61:REMOVE_FIELD Y: p.Y → (nothing)",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("mutants:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestReverseFor(t *testing.T) {
	src := `package p

func f(l []int) (n int) {
	for i := 0; i < len(l); i++ {
		n = n*10 + l[i]
	}
	for i := len(l) - 1; i >= 0; i-- {
		n += i
	}
	for i := 1; i <= 3; i++ {
		n += i
	}
	for i := 9; i > 2; i-- {
		n -= i
	}
	return n
}
`
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "p.go", src, 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range generate(fset, f, []byte(src), "p.go", map[string]bool{opReverse: true}, nil) {
		got = append(got, m.Repl)
	}
	want := []string{
		"i := (len(l)) - 1; i >= 0; i--",
		"i := 0; i <= len(l) - 1; i++",
		"i := 3; i >= 1; i--",
		"i := (2) + 1; i <= 9; i++",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("reversed loops:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestEquivalents(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "eq.txt")
	write := func(s string) {
		if err := os.WriteFile(file, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("# comment\n\nsample.go:5:7:CONDITIONALS_BOUNDARY | if v < lo { | v == lo returns lo either way\nsample.go:8:7:CONDITIONALS_BOUNDARY | if v >= hi { | stale text\nsample.go:99:1:REMOVE_NOT | x | matches nothing\n")
	e, err := loadEquivalents(file)
	if err != nil {
		t.Fatal(err)
	}
	if !e.match(&Mutant{File: "sample.go", Line: 5, Col: 7, Op: opBoundary, LineText: "if v < lo {"}) {
		t.Error("listed mutant not matched")
	}
	if e.match(&Mutant{File: "sample.go", Line: 8, Col: 7, Op: opBoundary, LineText: "if v > hi {"}) {
		t.Error("a mutant whose line changed was matched")
	}
	e.match(&Mutant{File: "sample.go", Line: 1, Col: 1, Op: opNot})
	got := strings.Join(e.unused(), "\n")
	if !strings.Contains(got, "sample.go:8:7:CONDITIONALS_BOUNDARY (line 4): the line now reads differently") || !strings.Contains(got, "sample.go:99:1:REMOVE_NOT (line 5)") {
		t.Errorf("unused entries:\n%s", got)
	}
	// With -keys only the keys tested are judged: the entry of line 99,
	// not among them, is not reported.
	e.keys = map[string]bool{"sample.go:8:7:CONDITIONALS_BOUNDARY": true, "sample.go:1:1:REMOVE_NOT": true}
	got = strings.Join(e.unused(), "\n")
	if !strings.Contains(got, "sample.go:8:7:CONDITIONALS_BOUNDARY (line 4)") || strings.Contains(got, "sample.go:99:1") {
		t.Errorf("unused entries with -keys:\n%s", got)
	}
	for _, bad := range []string{
		"sample.go:5:CONDITIONALS_BOUNDARY | x | y\n",
		"sample.go:5:7:NO_SUCH_OP | x | y\n",
		"sample.go:5:7:REMOVE_NOT | x |\n",
		"sample.go:5:7:REMOVE_NOT | x | a\nsample.go:5:7:REMOVE_NOT | x | b\n",
	} {
		write(bad)
		if _, err := loadEquivalents(file); err == nil {
			t.Errorf("loaded %q", bad)
		}
	}
}

func TestCoverage(t *testing.T) {
	file := filepath.Join(t.TempDir(), "c.out")
	prof := "mode: set\nexample.com/p/a.go:3.20,5.2 1 1\nexample.com/p/a.go:4.10,4.30 1 0\nexample.com/q/a.go:1.1,9.1 1 0\n"
	if err := os.WriteFile(file, []byte(prof), 0o644); err != nil {
		t.Fatal(err)
	}
	cov, err := readCoverage(file, "example.com/p")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		line, col int
		want      bool
	}{
		{3, 25, true}, {4, 5, true}, {4, 15, false}, {5, 1, true}, {8, 1, true},
	} {
		if got := cov.covered("a.go", c.line, c.col); got != c.want {
			t.Errorf("covered(%d:%d) = %v, want %v", c.line, c.col, got, c.want)
		}
	}
}

// TestRun mutates a small module end to end, on schemas and one by one,
// and checks the outcome of each mutant, the score, the equivalent list,
// and that the module's files are as they were.
func TestRun(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and tests a module once per file and per mutant")
	}
	dir := t.TempDir()
	files := map[string]string{
		"go.mod":         "module example.com/sample\n\ngo 1.21\n",
		"sample.go":      sampleSrc,
		"sample_test.go": sampleTest,
		"equivalent.txt": "sample.go:5:7:CONDITIONALS_BOUNDARY | if v < lo { | v == lo returns lo either way\n" +
			"sample.go:8:7:CONDITIONALS_BOUNDARY | if v > hi { | v == hi returns hi either way\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	before := treeHash(t, dir)
	var out, errOut bytes.Buffer
	code := run([]string{"-root", dir, "-equivalent", filepath.Join(dir, "equivalent.txt"), "-v", "-p", "2", "-min", "50", "."}, &out, &errOut)
	t.Logf("output:\n%s%s", out.String(), errOut.String())
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	text := out.String()
	for _, want := range []string{
		"KILLED       sample.go:5:7:CONDITIONALS_NEGATION",
		"KILLED       sample.go:6:3:REMOVE_STATEMENT",
		"KILLED       sample.go:8:7:CONDITIONALS_NEGATION",
		"KILLED       sample.go:9:3:REMOVE_STATEMENT",
		"SURVIVED     sample.go:17:20:REVERSE_LOOP",
		"KILLED       sample.go:30:49:REMOVE_FIELD",
		"KILLED       sample.go:30:56:ARITHMETIC_BASE",
		"KILLED       sample.go:30:61:REMOVE_FIELD",
		"NOT COVERED  sample.go:24:38:INVERT_LOGICAL",
		"NOT COVERED  sample.go:24:41:REMOVE_NOT",
		"NOT COVERED  sample.go:24:44:CONDITIONALS_NEGATION",
		// Removing "out = v" leaves v unused: it does not type-check.
		// 14 mutants, 1 invalid, 2 equivalent; 7 killed, 1 survivor, 3
		// not covered.
		".: 7 mutants tested on per-file schemas, 1 one by one",
		"14       1          2      7        1         3      0  63.6%",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if strings.Contains(text, "stale") {
		t.Error("the equivalent list was reported stale")
	}
	if after := treeHash(t, dir); after != before {
		t.Error("the module's files changed")
	}
	// Below -min: exit 1.
	out.Reset()
	if code := run([]string{"-root", dir, "-equivalent", "none", "-ops", "REVERSE_LOOP", "-min", "90", "."}, &out, &errOut); code != 1 {
		t.Errorf("exit %d below -min, want 1:\n%s", code, out.String())
	}
}

func treeHash(t *testing.T, dir string) string {
	t.Helper()
	h := sha256.New()
	err := filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s %v\n", path, info.Mode())
		if info.Mode().IsRegular() {
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			h.Write(b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}
