package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestMapLine(t *testing.T) {
	hs := parseHunks("diff --git a/f.go b/f.go\n@@ -3 +3,2 @@ func f() {\n-a\n+b\n+c\n@@ -10,0 +12,4 @@\n+x\n@@ -20,2 +25,0 @@\n-y\n-z\n")
	want := []hunk{{3, 1, 3, 2}, {10, 0, 12, 4}, {20, 2, 25, 0}}
	if len(hs) != len(want) {
		t.Fatalf("hunks %+v, want %+v", hs, want)
	}
	for i := range want {
		if hs[i] != want[i] {
			t.Errorf("hunk %d: %+v, want %+v", i, hs[i], want[i])
		}
	}
	for _, tc := range []struct {
		old, new int
		ok       bool
	}{
		{1, 1, true}, {2, 2, true}, // above every hunk
		{3, 0, false},                // changed
		{4, 5, true}, {10, 11, true}, // after a line became two; 10 is above the insertion after it
		{11, 16, true}, {19, 24, true}, // after four more lines
		{20, 0, false}, {21, 0, false}, // removed
		{22, 25, true}, // after two lines fewer
	} {
		n, ok, _ := mapLine(hs, tc.old)
		if n != tc.new || ok != tc.ok {
			t.Errorf("line %d: %d, %v; want %d, %v", tc.old, n, ok, tc.new, tc.ok)
		}
	}
	if _, _, h := mapLine(hs, 21); h != want[2] {
		t.Errorf("line 21 changed by %+v, want %+v", h, want[2])
	}
}

// TestRekey re-keys a list in a throwaway git repository: an entry below
// inserted lines moves (re-indented: its column follows), one on a changed
// line and one already stale are left and reported, one of an unchanged
// file and the comments stay as they are.
func TestRekey(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git")
	}
	dir := t.TempDir()
	git := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	write := func(name, s string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("a.go", "package a\n\nfunc f(v int) int {\n\tif v < 0 {\n\t\treturn 0\n\t}\n\treturn v\n}\n")
	write("b.go", "package a\n\nfunc g() bool { return !true }\n")
	list := "# a comment\n" +
		"a.go:4:7:CONDITIONALS_BOUNDARY | if v < 0 { | moves\n" +
		"a.go:5:3:REMOVE_STATEMENT | return 0 | its line changes\n" +
		"a.go:7:2:REMOVE_STATEMENT | return x | stale already\n" +
		"b.go:3:24:REMOVE_NOT | func g() bool { return !true } | b.go does not change\n"
	write("eq.txt", list)
	git("init", "-q")
	git("add", ".")
	git("commit", "-q", "-m", "base")
	write("a.go", "package a\n\n// f clamps.\n// It is new.\nfunc f(v int) int {\n\tfor {\n\t\tif v < 0 {\n\t\t\treturn -1\n\t\t}\n\t\tbreak\n\t}\n\treturn v\n}\n")
	var out bytes.Buffer
	c := &config{root: dir, equiv: filepath.Join(dir, "eq.txt")}
	if err := runRekey(c, "HEAD", &out); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(c.equiv)
	if err != nil {
		t.Fatal(err)
	}
	want := "# a comment\n" +
		"a.go:7:8:CONDITIONALS_BOUNDARY | if v < 0 { | moves\n" +
		"a.go:5:3:REMOVE_STATEMENT | return 0 | its line changes\n" +
		"a.go:7:2:REMOVE_STATEMENT | return x | stale already\n" +
		"b.go:3:24:REMOVE_NOT | func g() bool { return !true } | b.go does not change\n"
	if string(b) != want {
		t.Errorf("list\n%s\nwant\n%s", b, want)
	}
	for _, s := range []string{"1 entries moved", "a.go:5:3:REMOVE_STATEMENT (line 3): its line changed", "a.go:7:2:REMOVE_STATEMENT (line 4): stale at HEAD already"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("output lacks %q:\n%s", s, out.String())
		}
	}
	// A second run has nothing to move and writes nothing.
	out.Reset()
	if err := runRekey(c, "HEAD", &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "0 entries moved") {
		t.Errorf("second run:\n%s", out.String())
	}
	// A malformed list is an error, not a rewrite.
	write("eq.txt", "a.go:4 | x | y\n")
	if err := runRekey(c, "HEAD", &out); err == nil {
		t.Error("a malformed entry was taken")
	}
}

func TestFindIn(t *testing.T) {
	now := []string{"a", "\tx := 1", "b", "  x := 1", "c"}
	for _, tc := range []struct {
		h    hunk
		text string
		want int
		ok   bool
	}{
		{hunk{newStart: 1, newCount: 3}, "x := 1", 2, true},
		{hunk{newStart: 1, newCount: 5}, "x := 1", 0, false}, // twice: ambiguous
		{hunk{newStart: 3, newCount: 1}, "x := 1", 0, false}, // not among the new lines
		{hunk{newStart: 4, newCount: 9}, "x := 1", 4, true},  // a count past the end
	} {
		n, ok := findIn(now, tc.h, tc.text)
		if n != tc.want || ok != tc.ok {
			t.Errorf("%+v: %d, %v; want %d, %v", tc.h, n, ok, tc.want, tc.ok)
		}
	}
}
