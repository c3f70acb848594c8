// Command mutate is sidecarkit's mutation tester. It plants small bugs
// (mutants) one at a time in a package's Go files and runs that package's
// tests against each: a mutant the tests fail on is killed, one they pass
// is a survivor, a gap in the tests or an equivalent mutant (one that
// changes no behaviour; list those in equivalent.txt with a reason).
//
// Usage, from the repository root:
//
//	go run -C tools/mutate . -root ../.. [flags] TARGET...
//
// A TARGET is a package directory (patch) or one file of it
// (universal/decide.go), relative to -root. Mutants are never written into
// the tree: each is written to a temporary directory and handed to
// `go test -overlay`, so the working tree stays as it was, even when the
// run is interrupted.
//
// A mutant that does not type-check is dropped before any test runs; a
// mutant in code the package's tests never execute (per a coverage run)
// is reported as not covered without running them. The score is killed
// over killed + survived + not covered; equivalent mutants count in
// neither.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

type config struct {
	root      string
	equiv     string
	parallel  int
	budget    time.Duration
	timeout   time.Duration
	ops       map[string]bool
	verbose   bool
	short     bool // the tests run with -short
	list      bool
	minScore  float64
	targets   []string
	goCommand string
	keys      map[string]bool // when set, only these mutants are tested
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("mutate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c config
	fs.StringVar(&c.root, "root", ".", "the repository root (the library module's directory); targets are relative to it")
	fs.StringVar(&c.equiv, "equivalent", "", "the equivalent-mutant list (default ROOT/tools/mutate/equivalent.txt; \"none\" for none)")
	fs.IntVar(&c.parallel, "p", 1, "mutants tested at once")
	fs.DurationVar(&c.budget, "budget", 30*time.Minute, "time budget for the whole run: mutants not started by then are reported as not run")
	fs.DurationVar(&c.timeout, "timeout", 0, "per-mutant time limit for build and tests (0: 3× the package's baseline test run, at least 60s)")
	opsFlag := fs.String("ops", strings.Join(allOps, ","), "operators to apply")
	fs.BoolVar(&c.verbose, "v", false, "print every mutant's outcome, not only survivors")
	fs.BoolVar(&c.short, "short", false, "run the tests with -short (the coverage run too); re-check the survivors without it, with -keys")
	fs.BoolVar(&c.list, "list", false, "list the mutants (after the type check) and run no tests")
	fs.Float64Var(&c.minScore, "min", 0, "exit 1 when a package's score (percent) is below this")
	keysFile := fs.String("keys", "", "test only the mutants whose keys (FILE:LINE:COL:OPERATOR) appear in this file, e.g. an earlier run's output, to re-check its survivors")
	rekeyBase := fs.String("rekey", "", "run no test: move the equivalent list's entries of the files changed since this git revision to the lines their text moved to, and list those it cannot move")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: mutate [flags] TARGET...  (TARGET: a package directory or a .go file of one, relative to -root)\n")
		fmt.Fprintf(stderr, "       mutate -rekey REV [-root DIR] [-equivalent FILE]\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	c.targets = fs.Args()
	if len(c.targets) == 0 && *rekeyBase == "" {
		fs.Usage()
		return 2
	}
	c.ops = map[string]bool{}
	for _, o := range strings.Split(*opsFlag, ",") {
		o = strings.TrimSpace(o)
		if !contains(allOps, o) {
			fmt.Fprintf(stderr, "mutate: unknown operator %q (known: %s)\n", o, strings.Join(allOps, ", "))
			return 2
		}
		c.ops[o] = true
	}
	if *keysFile != "" {
		b, err := os.ReadFile(*keysFile)
		if err != nil {
			fmt.Fprintf(stderr, "mutate: %v\n", err)
			return 2
		}
		c.keys = map[string]bool{}
		for _, f := range strings.Fields(string(b)) {
			if p := strings.Split(f, ":"); len(p) == 4 && contains(allOps, p[3]) {
				c.keys[f] = true
			}
		}
	}
	if c.parallel < 1 {
		c.parallel = 1
	}
	root, err := filepath.Abs(c.root)
	if err != nil {
		fmt.Fprintf(stderr, "mutate: %v\n", err)
		return 2
	}
	c.root = root
	if c.equiv == "" {
		c.equiv = filepath.Join(root, "tools", "mutate", "equivalent.txt")
	}
	c.goCommand = "go"
	if *rekeyBase != "" {
		if err := runRekey(&c, *rekeyBase, stdout); err != nil {
			fmt.Fprintf(stderr, "mutate: %v\n", err)
			return 2
		}
		return 0
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ok, err := mutate(ctx, &c, stdout)
	if err != nil {
		fmt.Fprintf(stderr, "mutate: %v\n", err)
		return 2
	}
	if !ok {
		return 1
	}
	return 0
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// mutate runs every target; it reports false when a score is below c.minScore.
func mutate(ctx context.Context, c *config, out io.Writer) (bool, error) {
	equiv, err := loadEquivalents(c.equiv)
	if err != nil {
		return false, err
	}
	equiv.keys = c.keys
	// Group file targets by package directory, keeping the order given.
	var dirs []string
	files := map[string][]string{} // dir → files (nil: all)
	for _, t := range c.targets {
		t = filepath.ToSlash(filepath.Clean(t))
		dir, file := t, ""
		if strings.HasSuffix(t, ".go") {
			dir, file = filepath.ToSlash(filepath.Dir(t)), filepath.Base(t)
		}
		if _, seen := files[dir]; !seen {
			dirs = append(dirs, dir)
			files[dir] = []string{}
		}
		if file == "" {
			files[dir] = nil
		} else if files[dir] != nil {
			files[dir] = append(files[dir], file)
		}
	}
	tmp, err := os.MkdirTemp("", "sidecarkit-mutate-")
	if err != nil {
		return false, err
	}
	defer os.RemoveAll(tmp)

	deadline := time.Now().Add(c.budget)
	allOK := true
	var summaries []summary
	for _, dir := range dirs {
		s, err := mutatePackage(ctx, c, dir, files[dir], equiv, tmp, deadline, out)
		if err != nil {
			return false, fmt.Errorf("%s: %w", dir, err)
		}
		summaries = append(summaries, s)
		if c.minScore > 0 && !c.list && s.score() < c.minScore {
			allOK = false
		}
	}
	if !c.list {
		fmt.Fprintln(out)
		fmt.Fprintln(out, "package                 mutants invalid equivalent killed survived uncovered notrun  score  time")
		for _, s := range summaries {
			fmt.Fprintln(out, s.line())
		}
	}
	for _, st := range equiv.unused() {
		fmt.Fprintf(out, "equivalent.txt: entry matches no mutant (stale?): %s\n", st)
	}
	return allOK, nil
}

type summary struct {
	dir                                          string
	total, invalid, equivalent, killed, timedOut int
	survived, uncovered, notRun, buildFailed     int
	elapsed                                      time.Duration
}

func (s summary) score() float64 {
	d := s.killed + s.timedOut + s.survived + s.uncovered
	if d == 0 {
		return 100
	}
	return 100 * float64(s.killed+s.timedOut) / float64(d)
}

func (s summary) line() string {
	l := fmt.Sprintf("%-23s %7d %7d %10d %6d %8d %9d %6d %5.1f%% %s",
		s.dir, s.total, s.invalid+s.buildFailed, s.equivalent, s.killed+s.timedOut, s.survived, s.uncovered, s.notRun, s.score(), s.elapsed.Round(time.Second))
	if s.timedOut > 0 {
		l += fmt.Sprintf("  (%d killed by timeout)", s.timedOut)
	}
	return l
}

func sortMutants(ms []*Mutant) {
	sort.SliceStable(ms, func(i, j int) bool {
		if ms[i].File != ms[j].File {
			return ms[i].File < ms[j].File
		}
		return ms[i].Start < ms[j].Start
	})
}
