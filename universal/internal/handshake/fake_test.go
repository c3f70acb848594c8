package handshake_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sidecarkit/sidecarkit/universal/internal/handshake"
	"github.com/sidecarkit/sidecarkit/universal/internal/protocol"
)

// fakeSys is a System in memory, with a manual clock: After(d) moves the
// clock by d and fires at once, after calling onWait.
type fakeSys struct {
	mu      sync.Mutex
	sandbox protocol.Sandbox
	sbErr   error
	// sbErrs, when set, are the errors of the first identity reads, in
	// order; tokens records the token directories asked for.
	sbErrs  []error
	tokens  []string
	termMsg map[string]string
	files   map[string]string
	// claimRace, when set, is what another twin claims just before this
	// one's first claim.
	claimRace string
	now       time.Time
	waits     int
	onWait    func(n int, f *fakeSys)
	sigs      chan os.Signal
	execs     [][]string
	execErr   error
	// starts are the children started; child is the last one, and
	// ignoreTerms is how many SIGTERMs children ignore.
	starts      [][]string
	child       *fakeChild
	ignoreTerms int
	runs        [][]string
	runCode     int
	installs    []string
	exes        map[string]bool
	dial        func(ctx context.Context, network, addr string) (net.Conn, error)
}

func newFake() *fakeSys {
	return &fakeSys{
		sandbox: protocol.Sandbox{BootID: "boot-1", Net: protocol.Namespace{Dev: 4, Ino: 100}},
		files:   map[string]string{},
		now:     time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC),
		sigs:    make(chan os.Signal, 1),
		exes:    map[string]bool{"/usr/bin/proxy": true, "/bin/true": true},
	}
}

func (f *fakeSys) key() string { return f.sandbox.Key() }

func (f *fakeSys) Sandbox(token string) (protocol.Sandbox, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tokens = append(f.tokens, token)
	if len(f.sbErrs) > 0 {
		err := f.sbErrs[0]
		f.sbErrs = f.sbErrs[1:]
		return f.sandbox, err
	}
	return f.sandbox, f.sbErr
}

func (f *fakeSys) TerminationMessage(path, msg string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.termMsg == nil {
		f.termMsg = map[string]string{}
	}
	f.termMsg[path] = msg
	return nil
}
func (f *fakeSys) Dir(path string) protocol.Dir { return fakeDir{f} }
func (f *fakeSys) Now() time.Time               { f.mu.Lock(); defer f.mu.Unlock(); return f.now }
func (f *fakeSys) Signals() <-chan os.Signal    { return f.sigs }

func (f *fakeSys) After(d time.Duration) <-chan time.Time {
	f.mu.Lock()
	f.waits++
	n := f.waits
	f.now = f.now.Add(d)
	f.mu.Unlock()
	if f.onWait != nil {
		f.onWait(n, f)
	}
	ch := make(chan time.Time, 1)
	f.mu.Lock()
	exited := f.child != nil && len(f.child.exited) > 0
	f.mu.Unlock()
	if len(f.sigs) == 0 && !exited { // a pending signal or exit comes first
		ch <- f.Now()
	}
	return ch
}

func (f *fakeSys) Exec(path string, argv, env []string) error {
	f.execs = append(f.execs, append([]string{path}, argv...))
	if f.execErr != nil {
		return f.execErr
	}
	return errors.New("fake exec returned (it does not replace the test)")
}

func (f *fakeSys) Start(path string, argv, env []string) (handshake.Child, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.starts = append(f.starts, append([]string{path}, argv...))
	f.child = &fakeChild{exited: make(chan int, 1), ignoreTerms: f.ignoreTerms}
	return f.child, nil
}

// fakeChild is a started sidecar: it exits 143 on SIGTERM (once it
// ignored ignoreTerms of them), 137 on Kill, or with the code a test
// gives exit.
type fakeChild struct {
	mu          sync.Mutex
	sigs        []string
	done        bool
	ignoreTerms int
	exited      chan int
}

func (c *fakeChild) exit(code int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.done {
		c.done = true
		c.exited <- code
	}
}

func (c *fakeChild) Signal(s os.Signal) error {
	c.mu.Lock()
	c.sigs = append(c.sigs, s.String())
	ignore := s == syscall.SIGTERM && c.ignoreTerms > 0
	if ignore {
		c.ignoreTerms--
	}
	c.mu.Unlock()
	if s == syscall.SIGTERM && !ignore {
		c.exit(143)
	}
	return nil
}

func (c *fakeChild) Kill() error {
	c.mu.Lock()
	c.sigs = append(c.sigs, "kill")
	c.mu.Unlock()
	c.exit(137)
	return nil
}

func (c *fakeChild) Exited() <-chan int { return c.exited }

// signals lists what the child got, "kill" for Kill.
func (c *fakeChild) signals() string {
	if c == nil {
		return ""
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return strings.Join(c.sigs, ",")
}

func (f *fakeSys) Run(ctx context.Context, path string, argv, env []string) (int, error) {
	f.runs = append(f.runs, append([]string{path}, argv...))
	return f.runCode, nil
}

func (f *fakeSys) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	if f.dial != nil {
		return f.dial(ctx, network, addr)
	}
	return nil, fmt.Errorf("dial %s: connection refused", addr)
}

func (f *fakeSys) Stat(path string) (fs.FileInfo, error) {
	if f.exes[path] {
		return exeInfo{path}, nil
	}
	return nil, &fs.PathError{Op: "stat", Path: path, Err: fs.ErrNotExist}
}

func (f *fakeSys) Install(path string) error {
	f.installs = append(f.installs, path)
	return nil
}

type exeInfo struct{ name string }

func (i exeInfo) Name() string       { return i.name }
func (i exeInfo) Size() int64        { return 1 }
func (i exeInfo) Mode() fs.FileMode  { return 0o755 }
func (i exeInfo) ModTime() time.Time { return time.Time{} }
func (i exeInfo) IsDir() bool        { return false }
func (i exeInfo) Sys() interface{}   { return nil }

// put writes a marker file as a twin would.
func (f *fakeSys) put(name string, m protocol.Marker) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.files[name] = string(m.Format())
}

func (f *fakeSys) dump() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var names []string
	for n := range f.files {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		fmt.Fprintf(&b, "%s: %s", strings.Replace(n, f.sandbox.Key(), "<sb>", 1), strings.Replace(f.files[n], f.sandbox.Key(), "<sb>", 1))
	}
	return b.String()
}

type fakeDir struct{ f *fakeSys }

func (d fakeDir) ReadFile(name string) ([]byte, error) {
	d.f.mu.Lock()
	defer d.f.mu.Unlock()
	v, ok := d.f.files[name]
	if !ok {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return []byte(v), nil
}

func (d fakeDir) WriteFile(name string, data []byte) error {
	d.f.mu.Lock()
	defer d.f.mu.Unlock()
	d.f.files[name] = string(data)
	return nil
}

func (d fakeDir) CreateFile(name string, data []byte) error {
	d.f.mu.Lock()
	defer d.f.mu.Unlock()
	if d.f.claimRace != "" {
		d.f.files[name] = string(protocol.Marker{Kind: protocol.KindClaim, Value: d.f.claimRace, Sandbox: strings.TrimPrefix(name, "claim-")}.Format())
		d.f.claimRace = ""
	}
	if _, ok := d.f.files[name]; ok {
		return &os.LinkError{Op: "link", Old: "tmp", New: name, Err: syscall.EEXIST}
	}
	d.f.files[name] = string(data)
	return nil
}

// logBuf collects the runner's lines.
type logBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
