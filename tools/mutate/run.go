package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path"
	"strconv"
	"strings"
	"syscall"
	"time"
)

type testResult struct {
	code        int    // go test's exit code
	output      string // its combined output
	buildFailed bool   // the output says the build failed
	timedOut    bool   // the per-mutant limit ended it
	err         error  // go test could not be run
}

// goTest runs the tests of package dir (relative to c.root) once, without
// vet and without the test cache, with overlay when it is not empty. A
// limit above zero ends the whole process group when it passes.
func goTest(ctx context.Context, c *config, dir, overlay string, limit time.Duration, extra ...string) testResult {
	args := []string{"test", "-count=1", "-vet=off"}
	if c.short {
		args = append(args, "-short")
	}
	if overlay != "" {
		args = append(args, "-overlay="+overlay)
	}
	if limit > 0 {
		// go test's own -timeout covers the test binary; the context
		// below covers the build as well.
		args = append(args, "-timeout="+limit.String())
	}
	args = append(args, extra...)
	args = append(args, "./"+dir)
	code, out, timedOut, err := runCmd(ctx, c.root, nil, limit, c.goCommand, args...)
	if err != nil {
		return testResult{err: err, output: out}
	}
	r := testResult{code: code, output: out, timedOut: timedOut}
	r.buildFailed = strings.Contains(out, "[build failed]") || strings.Contains(out, "[setup failed]")
	// go test's own -timeout: the test binary panics with this line.
	if strings.Contains(out, "panic: test timed out after") {
		r.timedOut = true
	}
	return r
}

// runCmd runs name with args in dir, with env added to the environment,
// and returns its exit code and combined output. A limit above zero ends
// the whole process group 30s after it passes (commands given a limit of
// their own end before). err is set when the command could not run or ctx
// was cancelled.
func runCmd(ctx context.Context, dir string, env []string, limit time.Duration, name string, args ...string) (code int, output string, timedOut bool, err error) {
	runCtx := ctx
	if limit > 0 {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithTimeout(ctx, limit+30*time.Second)
		defer cancel()
	}
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Start(); err != nil {
		return 0, "", false, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var werr error
	select {
	case werr = <-done:
	case <-runCtx.Done():
		// The command and every process it started (the compiler, the
		// test binary): its process group, and nothing else.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		werr = <-done
		if ctx.Err() != nil {
			return 0, buf.String(), false, ctx.Err()
		}
		timedOut = true
	}
	if werr != nil {
		ee, ok := werr.(*exec.ExitError)
		if !ok {
			return 0, buf.String(), timedOut, werr
		}
		code = ee.ExitCode()
		if code < 0 {
			code = 1
		}
	}
	return code, buf.String(), timedOut, nil
}

// writeOverlay writes go build's -overlay file.
func writeOverlay(file string, replace map[string]string) error {
	b, err := json.Marshal(struct{ Replace map[string]string }{replace})
	if err != nil {
		return err
	}
	return os.WriteFile(file, b, 0o644)
}

// block is one coverage block of a file: [line0.col0, line1.col1).
type block struct {
	l0, c0, l1, c1, count int
}

// coverage holds the blocks of the package's files, by base name.
type coverage map[string][]block

// readCoverage reads a -coverprofile file's blocks of package importPath.
func readCoverage(file, importPath string) (coverage, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	cov := coverage{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "mode:") || line == "" {
			continue
		}
		// importpath/file.go:l0.c0,l1.c1 statements count
		colon := strings.LastIndex(line, ".go:")
		if colon < 0 {
			return nil, fmt.Errorf("coverage profile: bad line %q", line)
		}
		name := line[:colon+3]
		if path.Dir(name) != importPath {
			continue
		}
		var b block
		var stmts int
		if _, err := fmt.Sscanf(line[colon+4:], "%d.%d,%d.%d %d %d", &b.l0, &b.c0, &b.l1, &b.c1, &stmts, &b.count); err != nil {
			return nil, fmt.Errorf("coverage profile: bad line %q: %v", line, err)
		}
		base := path.Base(name)
		cov[base] = append(cov[base], b)
	}
	return cov, sc.Err()
}

// covered reports whether the innermost block holding line:col ran. A
// position in no block (which mutants inside function bodies never are)
// counts as covered, so that it is tested rather than skipped.
func (cov coverage) covered(file string, line, col int) bool {
	var best *block
	for i := range cov[file] {
		b := &cov[file][i]
		if !b.contains(line, col) {
			continue
		}
		if best == nil || best.contains(b.l0, b.c0) && best.contains(b.l1, b.c1) {
			best = b
		}
	}
	return best == nil || best.count > 0
}

func (b *block) contains(line, col int) bool {
	if line < b.l0 || line > b.l1 {
		return false
	}
	if line == b.l0 && col < b.c0 {
		return false
	}
	if line == b.l1 && col > b.c1 {
		return false
	}
	return true
}

// equivalents is the list of mutants known to change no behaviour.
type equivalents struct {
	entries map[string]*equivEntry
	order   []string
	ran     map[string]bool // FILE:OPERATOR pairs this run generated mutants for
	// keys, when set, are the only mutants this run tests (-keys): an
	// entry of another key is not judged.
	keys map[string]bool
}

type equivEntry struct {
	key, text, reason string
	line              int // in the list
	used, stale       bool
}

// loadEquivalents reads the list: one mutant a line,
//
//	FILE:LINE:COL:OPERATOR | the line's text, trimmed | why it is equivalent
//
// with # comments and blank lines ignored. An entry whose text no longer
// matches the file's line is stale: the mutant is tested again and the
// run says so.
func loadEquivalents(file string) (*equivalents, error) {
	e := &equivalents{entries: map[string]*equivEntry{}, ran: map[string]bool{}}
	if file == "none" {
		return e, nil
	}
	b, err := os.ReadFile(file)
	if os.IsNotExist(err) {
		return e, nil
	}
	if err != nil {
		return nil, err
	}
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		parts := strings.SplitN(line, " | ", 3)
		if len(parts) != 3 || strings.TrimSpace(parts[2]) == "" {
			return nil, fmt.Errorf("%s:%d: want \"FILE:LINE:COL:OPERATOR | line text | reason\"", file, i+1)
		}
		key := strings.TrimSpace(parts[0])
		if f := strings.Split(key, ":"); len(f) != 4 || !contains(allOps, f[3]) || !isNumber(f[1]) || !isNumber(f[2]) {
			return nil, fmt.Errorf("%s:%d: bad key %q (want FILE:LINE:COL:OPERATOR)", file, i+1, key)
		}
		if _, dup := e.entries[key]; dup {
			return nil, fmt.Errorf("%s:%d: %s listed twice", file, i+1, key)
		}
		e.entries[key] = &equivEntry{key: key, text: strings.TrimSpace(parts[1]), reason: strings.TrimSpace(parts[2]), line: i + 1}
		e.order = append(e.order, key)
	}
	return e, nil
}

func isNumber(s string) bool {
	_, err := strconv.Atoi(s)
	return err == nil
}

// match reports whether m is listed as equivalent, with the line's text
// unchanged.
func (e *equivalents) match(m *Mutant) bool {
	e.ran[m.File+":"+m.Op] = true
	en, ok := e.entries[m.Key()]
	if !ok {
		return false
	}
	en.used = true
	if en.text != m.LineText {
		en.stale = true
		return false
	}
	return true
}

// unused lists the entries, of the files and operators this run mutated
// (and, with -keys, of the keys it tested), that matched no mutant or
// matched one whose line changed.
func (e *equivalents) unused() []string {
	var out []string
	for _, k := range e.order {
		en := e.entries[k]
		f := strings.Split(k, ":")
		switch {
		case !e.ran[f[0]+":"+f[3]], e.keys != nil && !e.keys[k]:
		case en.stale:
			out = append(out, fmt.Sprintf("%s (line %d): the line now reads differently; the mutant was tested", k, en.line))
		case !en.used:
			out = append(out, fmt.Sprintf("%s (line %d)", k, en.line))
		}
	}
	return out
}
