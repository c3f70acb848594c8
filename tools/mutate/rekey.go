package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// hunk is one hunk of a unified diff with no context (git diff -U0): old
// lines [oldStart, oldStart+oldCount) became new lines [newStart,
// newStart+newCount). A count of 0 means an insertion after oldStart (or a
// deletion after newStart).
type hunk struct {
	oldStart, oldCount, newStart, newCount int
}

var hunkHeader = regexp.MustCompile(`(?m)^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@`)

// parseHunks returns the hunks of a unified diff, in order.
func parseHunks(diff string) []hunk {
	var hs []hunk
	for _, m := range hunkHeader.FindAllStringSubmatch(diff, -1) {
		num := func(s string) int {
			if s == "" {
				return 1
			}
			n, _ := strconv.Atoi(s) // the pattern has only digits
			return n
		}
		hs = append(hs, hunk{num(m[1]), num(m[2]), num(m[3]), num(m[4])})
	}
	return hs
}

// mapLine returns the new number of old line l, or false and the hunk
// that changed or removed it.
func mapLine(hs []hunk, l int) (int, bool, hunk) {
	off := 0
	for _, h := range hs {
		if h.oldCount == 0 {
			if h.oldStart < l { // inserted above l
				off += h.newCount
			}
			continue
		}
		if l >= h.oldStart && l < h.oldStart+h.oldCount {
			return 0, false, h
		}
		if h.oldStart+h.oldCount <= l {
			off += h.newCount - h.oldCount
		}
	}
	return l + off, true, hunk{}
}

// findIn returns the one line of the hunk's new lines whose text, trimmed,
// is text (a line re-indented or moved within what the hunk changed), or
// false when none or several are.
func findIn(now []string, h hunk, text string) (int, bool) {
	found := 0
	for n := h.newStart; n < h.newStart+h.newCount && n <= len(now); n++ {
		if strings.TrimSpace(now[n-1]) == text {
			if found != 0 {
				return 0, false
			}
			found = n
		}
	}
	return found, found != 0
}

// indent is the number of leading spaces and tabs of s: a column counts
// bytes, and an entry's text is trimmed.
func indent(s string) int { return len(s) - len(strings.TrimLeft(s, " \t")) }

// rekey moves the entries of the equivalent list at file whose Go files
// changed since the git revision base (the working tree against it) to
// the lines and columns their text moved to, and rewrites the list. An
// entry is moved only when its text is that of its line at base and of
// the line it maps to now: the same line shifted by the lines added and
// removed above it, or, when the diff changed it, the one line of the
// same text among those that replaced it (re-indented, say); the others (their line changed, or the entry
// was stale already) are left as they are and returned, for a person to
// look at (the next run tests their mutants again).
func rekey(root, file, base string) (moved int, left []string, err error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return 0, nil, err
	}
	lines := strings.Split(string(b), "\n")
	type source struct {
		hunks    []hunk
		old, now []string
		err      error
	}
	sources := map[string]*source{}
	load := func(f string) *source {
		if s, ok := sources[f]; ok {
			return s
		}
		s := &source{}
		sources[f] = s
		diff, err := exec.Command("git", "-C", root, "diff", "-U0", base, "--", f).Output()
		if err != nil {
			s.err = fmt.Errorf("git diff %s -- %s: %w", base, f, err)
			return s
		}
		if len(diff) == 0 {
			return s // unchanged
		}
		s.hunks = parseHunks(string(diff))
		old, err := exec.Command("git", "-C", root, "show", base+":"+f).Output()
		if err != nil {
			s.err = fmt.Errorf("git show %s:%s: %w", base, f, err)
			return s
		}
		now, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(f)))
		if err != nil {
			s.err = err
			return s
		}
		s.old, s.now = strings.Split(string(old), "\n"), strings.Split(string(now), "\n")
		return s
	}
	for i, line := range lines {
		t := strings.TrimSpace(line)
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		parts := strings.SplitN(t, " | ", 3)
		key := strings.Split(strings.TrimSpace(parts[0]), ":")
		if len(parts) != 3 || len(key) != 4 || !isNumber(key[1]) || !isNumber(key[2]) {
			return 0, nil, fmt.Errorf("%s:%d: want \"FILE:LINE:COL:OPERATOR | line text | reason\"", file, i+1)
		}
		s := load(key[0])
		if s.err != nil {
			return 0, nil, s.err
		}
		if s.hunks == nil {
			continue
		}
		text := strings.TrimSpace(parts[1])
		l, _ := strconv.Atoi(key[1])
		col, _ := strconv.Atoi(key[2])
		n, ok, h := mapLine(s.hunks, l)
		if !ok {
			n, ok = findIn(s.now, h, text)
		}
		switch {
		case l > len(s.old) || strings.TrimSpace(s.old[l-1]) != text:
			left = append(left, fmt.Sprintf("%s (line %d): stale at %s already", parts[0], i+1, base))
			continue
		case !ok || n > len(s.now) || strings.TrimSpace(s.now[n-1]) != text:
			left = append(left, fmt.Sprintf("%s (line %d): its line changed", parts[0], i+1))
			continue
		}
		newKey := fmt.Sprintf("%s:%d:%d:%s", key[0], n, col-indent(s.old[l-1])+indent(s.now[n-1]), key[3])
		if newKey != strings.TrimSpace(parts[0]) {
			lines[i] = newKey + " | " + parts[1] + " | " + parts[2]
			moved++
		}
	}
	if moved > 0 {
		if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")), 0o644); err != nil {
			return 0, nil, err
		}
	}
	return moved, left, nil
}

// runRekey is the -rekey mode: it rekeys the list and reports.
func runRekey(c *config, base string, out io.Writer) error {
	moved, left, err := rekey(c.root, c.equiv, base)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "%s: %d entries moved to their lines' new places since %s\n", c.equiv, moved, base)
	for _, l := range left {
		fmt.Fprintf(out, "left as it is: %s\n", l)
	}
	return nil
}
