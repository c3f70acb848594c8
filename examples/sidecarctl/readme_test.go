package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/sidecarkit/sidecarkit/internal/golden"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// liveCommand matches a README line that runs an installed sidecarctl
// against a live cluster: doctor cluster, or doctor pod with a Pod name.
// The test runs these against the fake API server of mixedCluster.
var liveCommand = regexp.MustCompile(`^sidecarctl (doctor (?:cluster|pod [a-z0-9][-a-z0-9.]*)(?:\s[^|<>$]*)?)$`)

// docCommand is one command of a README.
type docCommand struct {
	args []string
	live bool // needs a cluster: run against the fake one
}

// documented returns the sidecarctl commands of the repository's README
// (run from the root with go run -C examples) and of examples/README.md
// (run from examples with go run), as argument lists, and the live doctor
// commands of both (an installed sidecarctl reading the cluster of the
// kubeconfig). Commands fed by a pipe (kubectl ... |) need a live cluster
// and are left out.
func documented(t *testing.T) []docCommand {
	t.Helper()
	sources := []struct {
		file   string
		prefix *regexp.Regexp
	}{
		{"../../README.md", regexp.MustCompile("(^|[`\\s])go run -C examples \\./sidecarctl ([^`\\n]*)")},
		{"../README.md", regexp.MustCompile("(^)go run \\./sidecarctl ([^`\\n]*)")},
	}
	var cmds []docCommand
	seen := map[string]bool{}
	for _, s := range sources {
		b, err := os.ReadFile(s.file)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, line := range strings.Split(string(b), "\n") {
			line = strings.TrimSpace(line)
			if m := liveCommand.FindStringSubmatch(line); m != nil {
				args, err := splitShell(m[1])
				if err != nil {
					t.Fatalf("%s: %q: %v", s.file, line, err)
				}
				if key := "live\x00" + strings.Join(args, "\x00"); !seen[key] {
					seen[key] = true
					cmds = append(cmds, docCommand{args: args, live: true})
				}
				continue
			}
			if strings.Contains(line, "|") && !strings.HasPrefix(line, "go run") {
				continue // fed by kubectl
			}
			for _, m := range s.prefix.FindAllStringSubmatch(line, -1) {
				args, err := splitShell(m[2])
				if err != nil {
					t.Fatalf("%s: %q: %v", s.file, line, err)
				}
				if key := strings.Join(args, "\x00"); !seen[key] {
					seen[key] = true
					cmds = append(cmds, docCommand{args: args})
				}
				n++
			}
		}
		if n == 0 {
			t.Fatalf("%s: no sidecarctl commands found", s.file)
		}
	}
	return cmds
}

// TestDocumentedCommands runs every sidecarctl command of the READMEs on
// examples/testdata, from the examples folder as the READMEs do, and the
// live doctor commands against a fake API server (mixedCluster, through
// $KUBECONFIG), and compares stdout, stderr and the exit code with golden
// files. Live doctor cluster commands may exit 3 or 4 (not ready,
// undetermined); the golden file pins which.
func TestDocumentedCommands(t *testing.T) {
	cmds := documented(t)
	live := 0
	for _, c := range cmds {
		if c.live {
			live++
		}
	}
	if live == 0 {
		t.Fatal("no live doctor commands found in the READMEs")
	}
	t.Setenv("KUBECONFIG", mixedCluster().serve(t))
	t.Chdir("..")
	for _, c := range cmds {
		args := c.args
		name := goldenName(args)
		if c.live {
			name = "live-" + name
		}
		t.Run(name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(args, strings.NewReader(""), &stdout, &stderr)
			if code != 0 && !(c.live && args[1] == "cluster" && (code == exitNotReady || code == exitUndetermined)) {
				t.Errorf("exit %d, stderr: %s", code, stderr.String())
			}
			got := fmt.Sprintf("$ sidecarctl %s\n%s--- stderr\n%s--- exit %d\n", strings.Join(args, " "), stdout.String(), stderr.String(), code)
			golden.Check(t, *update, filepath.Join("sidecarctl/testdata/readme", name+".txt"), []byte(got))
		})
	}
}

// goldenName derives a stable file name from a command line.
func goldenName(args []string) string {
	slug := strings.Trim(regexp.MustCompile(`[^a-z0-9]+`).ReplaceAllString(strings.ToLower(strings.Join(args, " ")), "-"), "-")
	slug = strings.ReplaceAll(slug, "testdata-", "")
	if len(slug) > 60 {
		slug = slug[:60]
	}
	sum := sha256.Sum256([]byte(strings.Join(args, "\x00")))
	return slug + "-" + hex.EncodeToString(sum[:3])
}

// splitShell splits a command line like a POSIX shell does for the simple
// cases the READMEs use: blanks separate words, single and double quotes
// group them.
func splitShell(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	var quote rune
	for _, r := range s {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ' ' || r == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case r == '\\' || r == '$' || r == '<' || r == '>' || r == '|' || r == '`' || r == ';' || r == '&':
			return nil, fmt.Errorf("shell syntax %q is not supported here", r)
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unterminated quote")
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

func TestSplitShell(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
		err  bool
	}{
		{"a b  c", []string{"a", "b", "c"}, false},
		{`--handshake "/bin/x handshake" -v`, []string{"--handshake", "/bin/x handshake", "-v"}, false},
		{`'a b'c`, []string{"a bc"}, false},
		{`""`, []string{""}, false},
		{`"open`, nil, true},
		{`a | b`, nil, true},
	} {
		got, err := splitShell(tc.in)
		if (err != nil) != tc.err || strings.Join(got, "\x00") != strings.Join(tc.want, "\x00") {
			t.Errorf("splitShell(%q) = %q, %v; want %q, error %v", tc.in, got, err, tc.want, tc.err)
		}
	}
}
