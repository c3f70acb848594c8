package protocol_test

import (
	"bufio"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// simPackage is the package that holds TestSimulation and defines
// -protocol.depth, as the documented commands name it.
const simPackage = "./universal/internal/protocol"

// deepTimeout is the least -timeout a documented command at depth 2 or
// more must give: the deep check took 6 to 15 minutes on two cores
// (docs/universal.md), near or beyond go test's default of 10 minutes.
const deepTimeout = 30 * time.Minute

// documented are the files (from this directory) that give the model
// check's commands.
var documented = []string{"../../../docs/universal.md", "../../../docs/design.md", "../../doc.go"}

// buildFlags are flags of go test itself that have no test binary
// counterpart (go help testflag, go help build); the others are the test
// binary's "test." flags.
var buildFlags = map[string]bool{
	"race": true, "msan": true, "asan": true, "tags": true, "mod": true, "modfile": true,
	"json": true, "vet": true, "cover": true, "covermode": true, "coverpkg": true,
	"exec": true, "trimpath": true, "p": true, "x": true, "n": true, "a": true,
}

// docCommand is a go test command found in a document.
type docCommand struct {
	where string // file:line
	text  string
}

// documentedCommands returns the go test commands of the documents that
// run TestSimulation or set one of its flags.
func documentedCommands(t *testing.T) []docCommand {
	t.Helper()
	var out []docCommand
	for _, f := range documented {
		file, err := os.Open(f)
		if err != nil {
			t.Fatalf("documented commands: %v", err)
		}
		found := 0
		s := bufio.NewScanner(file)
		for n := 1; s.Scan(); n++ {
			line := s.Text()
			for {
				i := strings.Index(line, "go test ")
				if i < 0 {
					break
				}
				line = line[i:]
				cmd := line
				if j := strings.IndexAny(cmd, "`\"|;"); j >= 0 {
					cmd = cmd[:j]
				}
				if j := strings.Index(cmd, " #"); j >= 0 {
					cmd = cmd[:j]
				}
				line = line[len("go test "):]
				if strings.Contains(cmd, "TestSimulation") || strings.Contains(cmd, "protocol.depth") || strings.Contains(cmd, ".depth=") {
					out = append(out, docCommand{where: fmt.Sprintf("%s:%d", filepath.Clean(f), n), text: strings.TrimSpace(cmd)})
					found++
				}
			}
		}
		file.Close()
		if err := s.Err(); err != nil {
			t.Fatalf("documented commands: %s: %v", f, err)
		}
		if found == 0 {
			t.Errorf("%s gives no command of the model check any more: update documented in doccmd_test.go", f)
		}
	}
	return out
}

// testNames lists the Test functions of this package.
func testNames(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("*_test.go")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	fset := token.NewFileSet()
	for _, f := range files {
		af, err := parser.ParseFile(fset, f, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range af.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok && fd.Recv == nil && strings.HasPrefix(fd.Name.Name, "Test") {
				names = append(names, fd.Name.Name)
			}
		}
	}
	return names
}

// checkCommand reports what is wrong with a go test command of the model
// check, as go test would run it: the package must be simPackage; a flag
// of the test binary (such as -protocol.depth) must follow the package,
// or go test fails with "flag provided but not defined"; every flag must
// exist in this test binary (or be go test's), and its value must parse;
// -run must select a test of this package; a deep run needs a -timeout
// of deepTimeout or more.
func checkCommand(cmd string, tests []string) error {
	args := strings.Fields(cmd)
	if len(args) < 3 || args[0] != "go" || args[1] != "test" {
		return fmt.Errorf("not a go test command")
	}
	var pkgs []string
	depth, timeout := 1, 10*time.Minute
	run := ""
	binaryOnly := false // after -args everything goes to the test binary
	for i := 2; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") {
			if binaryOnly {
				return fmt.Errorf("%q after -args: go test passes it to the test binary, which takes no arguments", a)
			}
			pkgs = append(pkgs, a)
			continue
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if name == "args" {
			binaryOnly = true
			continue
		}
		f := flag.Lookup("test." + name)
		own := f != nil || buildFlags[name]
		if binaryOnly {
			// The test binary knows only its own names (-test.v, not -v).
			f, own = nil, false
		}
		if f == nil {
			f = flag.Lookup(name)
		}
		if f == nil && (binaryOnly || !buildFlags[name]) {
			return fmt.Errorf("flag -%s: not defined by go test or by the test binary of %s", name, simPackage)
		}
		if len(pkgs) == 0 && !own {
			return fmt.Errorf("flag -%s precedes the package: go test fails with \"flag provided but not defined\"; a flag of the test binary follows the package", name)
		}
		if f == nil {
			if !hasValue && i+1 < len(args) && name != "race" && name != "json" && name != "trimpath" && name != "x" && name != "n" && name != "a" {
				i++ // a build flag's value
			}
			continue
		}
		if !hasValue {
			if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
				value = "true"
			} else if i+1 < len(args) {
				i++
				value = args[i]
			} else {
				return fmt.Errorf("flag -%s: no value", name)
			}
		}
		// A fresh value of the flag's type, so that this binary's own
		// settings stay as they are.
		v, ok := reflect.New(reflect.TypeOf(f.Value).Elem()).Interface().(flag.Value)
		if !ok {
			return fmt.Errorf("flag -%s: cannot check its value", name)
		}
		if err := v.Set(value); err != nil {
			return fmt.Errorf("flag -%s=%s: %v", name, value, err)
		}
		switch f.Name {
		case "protocol.depth":
			depth, _ = strconv.Atoi(v.String())
		case "test.timeout":
			timeout, _ = time.ParseDuration(value)
		case "test.run":
			run = value
		}
	}
	if len(pkgs) != 1 || pkgs[0] != simPackage {
		return fmt.Errorf("packages %q: TestSimulation and -protocol.depth are in %s alone (in other packages the flag is not defined)", pkgs, simPackage)
	}
	if run != "" {
		re, err := regexp.Compile(strings.Split(run, "/")[0])
		if err != nil {
			return fmt.Errorf("-run %s: %v", run, err)
		}
		matched := false
		for _, n := range tests {
			matched = matched || re.MatchString(n)
		}
		if !matched {
			return fmt.Errorf("-run %s selects no test of %s", run, simPackage)
		}
	}
	if depth >= 2 && timeout > 0 && timeout < deepTimeout {
		return fmt.Errorf("-protocol.depth=%d with a -timeout of %v: the deep check runs longer; give -timeout=%v or more", depth, timeout, deepTimeout)
	}
	return nil
}

// TestDocumentedCommands: the model check's commands in the documents run
// as written (the flags exist, parse, and follow the package), so that
// the documents cannot drift from the test binary.
func TestDocumentedCommands(t *testing.T) {
	tests := testNames(t)
	deep := 0
	for _, c := range documentedCommands(t) {
		if err := checkCommand(c.text, tests); err != nil {
			t.Errorf("%s: %q: %v", c.where, c.text, err)
		}
		if strings.Contains(c.text, "depth=2") {
			deep++
		}
	}
	if deep == 0 {
		t.Errorf("no document gives the deep check's command (-protocol.depth=2)")
	}
}

// TestCheckCommand: the checker of the documented commands refuses the
// commands that do not run as written, the one the documents once gave
// among them.
func TestCheckCommand(t *testing.T) {
	tests := testNames(t)
	cases := []struct {
		cmd, want string // want: part of the error, "" for none
	}{
		{"go test -v -run TestSimulation ./universal/internal/protocol", ""},
		{"go test -v -run TestSimulation ./universal/internal/protocol -protocol.depth=2 -timeout=2h", ""},
		{"go test -count=1 -run=TestSimulation ./universal/internal/protocol -protocol.depth 0 -v", ""},
		{"go test -race ./universal/internal/protocol -args -protocol.depth=0", ""},
		{"go test ./universal/internal/protocol -args -v", "flag -v: not defined"},
		{"go test -v -run TestSimulation -universal.depth=2 ./universal", "flag -universal.depth: not defined"},
		{"go test -v -run TestSimulation -protocol.depth=2 ./universal/internal/protocol", "precedes the package"},
		{"go test -v -run TestSimulation ./universal/... -protocol.depth=2 -timeout=2h", "are in ./universal/internal/protocol alone"},
		{"go test -v -run TestSimulation ./universal/internal/protocol -protocol.depth=2", "-timeout=30m0s or more"},
		{"go test -v -run TestSimulation ./universal/internal/protocol -protocol.depth=two -timeout=2h", "flag -protocol.depth=two"},
		{"go test -v -run TestSimulatoin ./universal/internal/protocol", "selects no test"},
		{"go test -v -run TestSimulation ./universal/internal/protocol -protocol.depth", "no value"},
		{"go test -v -run TestSimulation ./universal/internal/protocol -timeout=1x", "flag -timeout=1x"},
		{"go vet ./universal/internal/protocol", "not a go test command"},
	}
	for _, tc := range cases {
		err := checkCommand(tc.cmd, tests)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%q: %v, want no error", tc.cmd, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%q: %v, want an error with %q", tc.cmd, err, tc.want)
		}
	}
}
