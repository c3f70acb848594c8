package main

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

func TestImageIsDeterministicAndHoldsTheFiles(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "prog")
	if err := os.WriteFile(bin, []byte("#!/bin/true\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	var outs [][]byte
	for _, name := range []string{"a.tar", "b.tar"} {
		out := filepath.Join(dir, name)
		if err := run([]string{"-o", out, "-ref", "sidecarkit.test/x:1", "-entrypoint", "/usr/local/bin/prog serve", bin + "=/usr/local/bin/prog"}); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		outs = append(outs, b)
	}
	if !bytes.Equal(outs[0], outs[1]) {
		t.Error("two runs with the same input wrote different tarballs")
	}
	img, err := tarball.ImageFromPath(filepath.Join(dir, "a.tar"), nil)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"/usr/local/bin/prog", "serve"}; !reflect.DeepEqual(cf.Config.Entrypoint, want) || cf.OS != "linux" || cf.Architecture != "amd64" {
		t.Errorf("config: entrypoint %q os %s arch %s", cf.Config.Entrypoint, cf.OS, cf.Architecture)
	}
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("layers: %d, %v", len(layers), err)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	got := map[string]int64{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got[h.Name] = h.Mode
	}
	want := map[string]int64{"tmp/": 0o1777, "usr/": 0o755, "usr/local/": 0o755, "usr/local/bin/": 0o755, "usr/local/bin/prog": 0o755}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("layer entries %v, want %v", got, want)
	}
}

func TestRefusesRelativeDestinations(t *testing.T) {
	if err := run([]string{"-o", filepath.Join(t.TempDir(), "x.tar"), "-ref", "sidecarkit.test/x:1", "prog=bin/prog"}); err == nil {
		t.Error("want an error for a relative destination")
	}
}
