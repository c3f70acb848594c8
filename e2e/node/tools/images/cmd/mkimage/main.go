// Command mkimage packs files (static binaries) into a single-layer
// linux/amd64 image and writes it as an image tarball that
// `ctr images import` reads. The output is deterministic: fixed
// timestamps, owners and order.
//
//	mkimage -o app.tar -ref sidecarkit.test/app:1 -entrypoint /nodetest \
//	    ./bin/nodetest=/nodetest [./bin/sidecarctl=/usr/local/bin/sidecarctl ...]
package main

import (
	"archive/tar"
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "mkimage:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("mkimage", flag.ContinueOnError)
	out := fs.String("o", "", "output tarball")
	ref := fs.String("ref", "", "image reference, e.g. sidecarkit.test/app:1")
	entry := fs.String("entrypoint", "", "entrypoint (space separated)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" || *ref == "" || fs.NArg() == 0 {
		return fmt.Errorf("usage: mkimage -o OUT -ref REF [-entrypoint CMD] SRC=DEST...")
	}
	tag, err := name.NewTag(*ref)
	if err != nil {
		return fmt.Errorf("-ref %q: %w", *ref, err)
	}
	files := map[string]string{}
	for _, a := range fs.Args() {
		src, dest, ok := strings.Cut(a, "=")
		if !ok || !path.IsAbs(dest) {
			return fmt.Errorf("%q: want SRC=/absolute/dest", a)
		}
		files[path.Clean(dest)] = src
	}
	layerTar, err := layer(files)
	if err != nil {
		return err
	}
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	})
	if err != nil {
		return err
	}
	img, err := mutate.AppendLayers(empty.Image, l)
	if err != nil {
		return err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	cf.Created = v1.Time{Time: time.Unix(0, 0).UTC()}
	cf.Config.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin"}
	if *entry != "" {
		cf.Config.Entrypoint = strings.Fields(*entry)
	}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		return err
	}
	tmp := *out + ".tmp"
	if err := tarball.WriteToFile(tmp, tag, img); err != nil {
		return err
	}
	return os.Rename(tmp, *out)
}

// layer returns an uncompressed tar holding files (destination → source)
// and their parent directories, plus /tmp.
func layer(files map[string]string) ([]byte, error) {
	dirs := map[string]bool{"tmp": true}
	dests := make([]string, 0, len(files))
	for d := range files {
		dests = append(dests, d)
		for p := path.Dir(d); p != "/"; p = path.Dir(p) {
			dirs[strings.TrimPrefix(p, "/")] = true
		}
	}
	sort.Strings(dests)
	dl := make([]string, 0, len(dirs))
	for d := range dirs {
		dl = append(dl, d)
	}
	sort.Strings(dl)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	epoch := time.Unix(0, 0)
	for _, d := range dl {
		mode := int64(0o755)
		if d == "tmp" {
			mode = 0o1777
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: mode, ModTime: epoch, Format: tar.FormatPAX}); err != nil {
			return nil, err
		}
	}
	for _, d := range dests {
		b, err := os.ReadFile(files[d])
		if err != nil {
			return nil, err
		}
		h := &tar.Header{Typeflag: tar.TypeReg, Name: strings.TrimPrefix(d, "/"), Mode: 0o755, Size: int64(len(b)), ModTime: epoch, Format: tar.FormatPAX}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(b); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
