//go:build unix

package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// readFile reads regular files of at most maxFileBytes and refuses, without
// reading or blocking, anything else.
func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, n int) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(strings.Repeat("x", n)), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	small := write("small", 10)
	exact := write("exact", maxFileBytes)
	big := write("big", maxFileBytes+1)
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	link := func(name, target string) string {
		p := filepath.Join(dir, name)
		if err := os.Symlink(target, p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		name, path string
		n          int
		want       string
	}{
		{"small", small, 10, ""},
		{"exactly the limit", exact, maxFileBytes, ""},
		{"a symbolic link to a regular file (kubelet's ..data)", link("to-small", small), 10, ""},
		{"over the limit", big, 0, "file of 1048577 bytes is larger than the limit of 1048576 bytes"},
		{"a device", "/dev/zero", 0, "/dev/zero: not a regular file (Dc---------)"},
		{"a symbolic link to a device", link("to-zero", "/dev/zero"), 0, "not a regular file (Dc---------)"},
		{"a FIFO", fifo, 0, "not a regular file (p---------)"},
		{"a directory", dir, 0, "not a regular file (d---------)"},
		{"missing", filepath.Join(dir, "none"), 0, "no such file or directory"},
	} {
		b, err := readFile(tc.path)
		if tc.want == "" {
			if err != nil || len(b) != tc.n {
				t.Errorf("%s: %d bytes, %v; want %d bytes", tc.name, len(b), err, tc.n)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %d bytes, error %v; want %q", tc.name, len(b), err, tc.want)
		}
	}
}

// A configuration or sidecarFile that names a device, a FIFO or a file
// over the limit is refused with a logged error, and the last good
// configuration keeps serving.
func TestConfigReloadRefusesHostileFiles(t *testing.T) {
	ts := startServer(t, testConfig, nil)
	fifo := filepath.Join(ts.dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(ts.dir, "big.yaml")
	if err := os.WriteFile(big, []byte("name: proxy\nimage: registry.example/proxy:9\nargs: ["+strings.Repeat(`"x",`, maxFileBytes/4)+"]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	config := filepath.Join(ts.dir, "config.yaml")
	for _, tc := range []struct {
		name, config, want string
	}{
		{"sidecarFile is a device", "sidecarFile: /dev/zero\n", "sidecarFile: /dev/zero: not a regular file"},
		{"sidecarFile is a FIFO", "sidecarFile: fifo\n", "sidecarFile: " + fifo + ": not a regular file"},
		{"sidecarFile is too large", "sidecarFile: big.yaml\n", "is larger than the limit of 1048576 bytes"},
		{"config is too large", testConfig + "#" + strings.Repeat("x", maxFileBytes) + "\n", config + ": file of"},
	} {
		if err := os.WriteFile(config, []byte(tc.config), 0o600); err != nil {
			t.Fatal(err)
		}
		bumpFile(t, config)
		ts.configs.check()
		if !strings.Contains(ts.logs.String(), tc.want) {
			t.Errorf("%s: logs lack %q:\n%s", tc.name, tc.want, ts.logs)
		}
		if got := patchOf(t, ts); !strings.Contains(got, "registry.example/proxy:2") {
			t.Errorf("%s: patch %s; want the last good configuration's", tc.name, got)
		}
	}
}

// A check that takes long (here: building the Webhook waits) holds up
// no review: reviews take the current Webhook, and the new one replaces
// it once built.
func TestReviewsDoNotWaitForReload(t *testing.T) {
	building := make(chan struct{})
	release := make(chan struct{})
	var blocked bool
	ts := startServerWith(t, testOptions{config: testConfig, build: func() {
		if blocked {
			close(building)
			<-release
		}
	}})
	blocked = true
	if err := os.WriteFile(filepath.Join(ts.dir, "config.yaml"), []byte(strings.Replace(testConfig, "proxy:2", "proxy:3", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	bumpFile(t, filepath.Join(ts.dir, "config.yaml"))
	checked := make(chan struct{})
	go func() {
		defer close(checked)
		ts.configs.check()
	}()
	<-building
	if got := patchOf(t, ts); !strings.Contains(got, "registry.example/proxy:2") {
		t.Errorf("during the check: patch %s; want the current configuration's", got)
	}
	close(release)
	<-checked
	if got := patchOf(t, ts); !strings.Contains(got, "registry.example/proxy:3") {
		t.Errorf("after the check: patch %s; want the new configuration's", got)
	}
}

// patchOf is the patch the server answers for testPod.
func patchOf(t *testing.T, ts *testServer) string {
	t.Helper()
	resp, err := ts.client.Post(ts.url+"/mutate", "application/json", strings.NewReader(reviewBody("Pod", "", testPod)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var ar struct {
		Response struct {
			Patch []byte `json:"patch"`
		} `json:"response"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&ar); err != nil {
		t.Fatal(err)
	}
	return string(ar.Response.Patch)
}
