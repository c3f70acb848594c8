package internal_test

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"unicode"
)

// repoRoot is the repository's root, seen from this package's directory.
const repoRoot = ".."

// self is this file, which names the forbidden citations to find them.
const self = "internal/docs_test.go"

// forbidden are citations of documents that are not in the repository: the
// team's background notes, which code, docs and messages must not cite
// (they cite docs/ or upstream instead).
var forbidden = []*regexp.Regexp{
	regexp.MustCompile(`(?i)reference\s*§`),
	regexp.MustCompile(`(?i)\bconsequences?"?\s+\d`),
	regexp.MustCompile(`DESIGN\.md`),
	regexp.MustCompile(`STYLE\.md`),
	regexp.MustCompile(`kubernetes-sidecars`),
	regexp.MustCompile(`real-apiserver`),
	regexp.MustCompile(`tutorial-adopting`),
	regexp.MustCompile(`prior-art`),
	regexp.MustCompile(`shared/reference`),
	regexp.MustCompile(`/work/shared`),
}

// docsCitation matches a path under docs/ (optionally ../docs/...) with an
// optional #anchor, not preceded by a path character, so that upstream URLs
// such as https://kubernetes.io/docs/... do not count.
var docsCitation = regexp.MustCompile(`(^|[^A-Za-z0-9_./-])((?:\.\./)*docs/[A-Za-z0-9_./-]*)(#[A-Za-z0-9_-]+)?`)

// mdLink matches the target of a Markdown inline link.
var mdLink = regexp.MustCompile(`\]\(([^()\s]*)\)`)

// TestDocCitations fails when a tracked file of the repository cites a
// document that is not in it (see forbidden), cites a path under docs/ that
// does not exist or an #anchor that no heading of that file has, or (in
// Markdown) links to a repository file or heading that does not exist.
func TestDocCitations(t *testing.T) {
	files := repoFiles(t)
	if len(files) == 0 {
		t.Fatal("no files found in the repository")
	}
	anchors := newAnchorCache()
	checked := 0
	for _, name := range files {
		if name == self {
			continue
		}
		b, err := os.ReadFile(filepath.Join(repoRoot, filepath.FromSlash(name)))
		if err != nil {
			if os.IsNotExist(err) {
				continue // deleted in the work tree but still in the index
			}
			t.Fatal(err)
		}
		head := b
		if len(head) > 8000 {
			head = head[:8000]
		}
		if bytes.IndexByte(head, 0) >= 0 {
			continue // binary
		}
		checked++
		for _, p := range problems(name, string(b), anchors) {
			t.Error(p)
		}
	}
	if checked < 50 {
		t.Fatalf("only %d text files checked: is %s the repository's root?", checked, repoRoot)
	}
	if len(anchors.files) == 0 {
		t.Fatal("no docs/ citation checked at all: the citation pattern is broken")
	}
}

// problems returns what is wrong with the citations of one file.
func problems(name, text string, anchors *anchorCache) []string {
	var out []string
	isMD := strings.HasSuffix(name, ".md")
	dir := path.Dir(name)
	for i, line := range strings.Split(text, "\n") {
		where := fmt.Sprintf("%s:%d", name, i+1)
		for _, re := range forbidden {
			if m := re.FindString(line); m != "" {
				out = append(out, fmt.Sprintf("%s: cites %q, a document that is not in the repository: cite docs/ or an upstream URL", where, m))
			}
		}
		for _, m := range docsCitation.FindAllStringSubmatchIndex(line, -1) {
			start := m[4]
			if isMD && start >= 2 && line[start-2:start] == "](" {
				continue // a Markdown link: checked below, relative to the file
			}
			target := strings.TrimRight(line[m[4]:m[5]], ".")
			anchor := ""
			if m[6] >= 0 {
				anchor = line[m[6]+1 : m[7]]
			}
			resolved := target
			if strings.HasPrefix(target, "../") {
				resolved = path.Join(dir, target)
			}
			if p := anchors.check(resolved, anchor); p != "" {
				out = append(out, fmt.Sprintf("%s: %s", where, p))
			}
		}
		if !isMD {
			continue
		}
		for _, m := range mdLink.FindAllStringSubmatch(line, -1) {
			target := m[1]
			if target == "" || strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			file, anchor, _ := strings.Cut(target, "#")
			resolved := name
			if file != "" {
				resolved = path.Join(dir, file)
			}
			if p := anchors.check(resolved, anchor); p != "" {
				out = append(out, fmt.Sprintf("%s: link %q: %s", where, target, p))
			}
		}
	}
	return out
}

// anchorCache reads each cited file once.
type anchorCache struct {
	files map[string]map[string]bool // file → its heading anchors; nil for a directory
	err   map[string]string
}

func newAnchorCache() *anchorCache {
	return &anchorCache{files: map[string]map[string]bool{}, err: map[string]string{}}
}

// check reports what is wrong with a citation of file (relative to the
// repository's root) and anchor ("" for none), or "".
func (c *anchorCache) check(file, anchor string) string {
	file = path.Clean(file)
	if strings.HasPrefix(file, "../") || file == ".." {
		return fmt.Sprintf("%s is outside the repository", file)
	}
	if _, seen := c.files[file]; !seen {
		if _, failed := c.err[file]; !failed {
			c.load(file)
		}
	}
	if e, failed := c.err[file]; failed {
		return e
	}
	if anchor == "" {
		return ""
	}
	a := c.files[file]
	if a == nil {
		return fmt.Sprintf("%s#%s: a directory has no anchors", file, anchor)
	}
	if !a[anchor] {
		return fmt.Sprintf("%s has no heading with anchor #%s (it has: %s)", file, anchor, strings.Join(sortedKeys(a), ", "))
	}
	return ""
}

func (c *anchorCache) load(file string) {
	full := filepath.Join(repoRoot, filepath.FromSlash(file))
	st, err := os.Stat(full)
	if err != nil {
		c.err[file] = fmt.Sprintf("%s does not exist", file)
		return
	}
	if st.IsDir() {
		c.files[file] = nil
		return
	}
	b, err := os.ReadFile(full)
	if err != nil {
		c.err[file] = fmt.Sprintf("%s: %v", file, err)
		return
	}
	if !strings.HasSuffix(file, ".md") {
		c.files[file] = map[string]bool{}
		return
	}
	c.files[file] = headingAnchors(string(b))
}

// headingAnchors returns the anchors GitHub gives the ATX headings of a
// Markdown document: lower case, punctuation other than "-" and "_"
// removed, spaces turned into "-", repeats numbered "-1", "-2", ...
// Lines inside fenced code blocks are not headings.
func headingAnchors(md string) map[string]bool {
	out := map[string]bool{}
	count := map[string]int{}
	fence := ""
	for _, line := range strings.Split(md, "\n") {
		trimmed := strings.TrimSpace(line)
		if fence != "" {
			if strings.HasPrefix(trimmed, fence) {
				fence = ""
			}
			continue
		}
		if strings.HasPrefix(trimmed, "```") || strings.HasPrefix(trimmed, "~~~") {
			fence = trimmed[:3]
			continue
		}
		if !strings.HasPrefix(line, "#") {
			continue
		}
		text := strings.TrimLeft(line, "#")
		if len(text) == len(line) || len(line)-len(text) > 6 || (text != "" && text[0] != ' ') {
			continue
		}
		slug := slugify(strings.TrimSpace(text))
		if n := count[slug]; n > 0 {
			out[fmt.Sprintf("%s-%d", slug, n)] = true
		} else {
			out[slug] = true
		}
		count[slug]++
	}
	return out
}

func slugify(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(heading) {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '_':
			b.WriteRune(r)
		case r == ' ':
			b.WriteByte('-')
		}
	}
	return b.String()
}

// repoFiles lists the repository's tracked files (git ls-files), or, where
// git or the repository's metadata is missing, every file under the root
// but .git and the build outputs that .gitignore names.
func repoFiles(t *testing.T) []string {
	t.Helper()
	if out, err := exec.Command("git", "-C", repoRoot, "ls-files", "-z").Output(); err == nil && len(out) > 0 {
		var files []string
		for _, f := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
			files = append(files, filepath.ToSlash(f))
		}
		return files
	}
	var files []string
	err := filepath.WalkDir(repoRoot, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(repoRoot, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			switch rel {
			case ".git", "bin", ".cache":
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(rel, ".test") || strings.HasSuffix(rel, ".out") {
			return nil
		}
		files = append(files, rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func sortedKeys(m map[string]bool) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
