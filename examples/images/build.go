package main

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// The images' user: distroless's "nonroot" (65532), which the manifests'
// securityContext names (runAsUser: 65532).
const (
	uid = 65532
	gid = 65532
)

// caBundle is where Debian's ca-certificates package keeps the CA bundle,
// copied into the images at the same path (Go's crypto/x509 looks there).
const caBundle = "/etc/ssl/certs/ca-certificates.crt"

// images are the images built: the binary of each package of the examples
// module, as /NAME, the entrypoint.
var images = []string{"webhook", "operator"}

// epoch is the time of every file and of the image config: the same
// binaries give the same image digests.
var epoch = time.Unix(0, 0).UTC()

// built is one image written to an OCI layout.
type built struct {
	name   string
	dir    string // the OCI image layout
	digest v1.Hash
	size   int64 // the binary's size
}

// buildAll builds the static binaries of names from the examples module in
// moduleDir with go (CGO_ENABLED=0, for linux on this machine's
// architecture) and writes each image as an OCI image layout under out/NAME.
func buildAll(ctx context.Context, goTool, moduleDir, out string, names []string, logf func(string, ...any)) ([]built, error) {
	base, err := baseLayer()
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "sidecarkit-images-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	var res []built
	for _, name := range names {
		start := time.Now()
		bin := filepath.Join(tmp, name)
		cmd := exec.CommandContext(ctx, goTool, "build", "-ldflags=-s -w", "-o", bin, "./"+name)
		cmd.Dir = moduleDir
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH)
		if b, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("images: go build ./%s: %v\n%s", name, err, b)
		}
		logf("images: built ./%s in %v", name, time.Since(start).Round(time.Millisecond))
		b, err := writeImage(name, bin, base, filepath.Join(out, name))
		if err != nil {
			return nil, err
		}
		logf("images: %s: %s (%s)", name, b.dir, b.digest)
		res = append(res, b)
	}
	return res, nil
}

// tarFile is one entry of a layer.
type tarFile struct {
	name     string
	mode     int64
	uid, gid int
	dir      bool
	body     []byte
	fromFile string // the body is this file's content
	typeflag byte
	linkname string
}

func layer(files []tarFile) (v1.Layer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		body := f.body
		if f.fromFile != "" {
			b, err := os.ReadFile(f.fromFile)
			if err != nil {
				return nil, fmt.Errorf("images: %w", err)
			}
			body = b
		}
		h := &tar.Header{Name: f.name, Mode: f.mode, Uid: f.uid, Gid: f.gid, ModTime: epoch, Format: tar.FormatPAX}
		switch {
		case f.dir:
			h.Typeflag = tar.TypeDir
		default:
			h.Typeflag = tar.TypeReg
			h.Size = int64(len(body))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if !f.dir {
			if _, err := tw.Write(body); err != nil {
				return nil, err
			}
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	b := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil },
		tarball.WithMediaType(types.OCILayer))
}

// baseLayer is what distroless/static gives a static binary: a passwd and
// group naming root and nonroot, nonroot's home, /tmp, and the CA bundle
// (from Debian's ca-certificates on the build machine).
func baseLayer() (v1.Layer, error) {
	if _, err := os.Stat(caBundle); err != nil {
		return nil, fmt.Errorf("images: the CA bundle: %w (install Debian's ca-certificates: apt-get install ca-certificates)", err)
	}
	return layer([]tarFile{
		{name: "etc/", mode: 0o755, dir: true},
		{name: "etc/passwd", mode: 0o644, body: []byte("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n")},
		{name: "etc/group", mode: 0o644, body: []byte("root:x:0:\nnonroot:x:65532:\n")},
		{name: "etc/ssl/", mode: 0o755, dir: true},
		{name: "etc/ssl/certs/", mode: 0o755, dir: true},
		{name: "etc/ssl/certs/ca-certificates.crt", mode: 0o644, fromFile: caBundle},
		{name: "home/", mode: 0o755, dir: true},
		{name: "home/nonroot/", mode: 0o700, uid: uid, gid: gid, dir: true},
		{name: "tmp/", mode: 0o1777, dir: true},
	})
}

// writeImage writes the image of binary bin as /name on the base layer to
// an OCI image layout in dir, tagged latest.
func writeImage(name, bin string, base v1.Layer, dir string) (built, error) {
	st, err := os.Stat(bin)
	if err != nil {
		return built{}, err
	}
	app, err := layer([]tarFile{{name: name, mode: 0o755, fromFile: bin}})
	if err != nil {
		return built{}, err
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.AppendLayers(img, base, app)
	if err != nil {
		return built{}, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return built{}, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", runtime.GOARCH
	cf.Created = v1.Time{Time: epoch}
	cf.Config.Entrypoint = []string{"/" + name}
	cf.Config.User = fmt.Sprintf("%d:%d", uid, gid)
	cf.Config.WorkingDir = "/"
	cf.Config.Env = []string{"SSL_CERT_FILE=" + caBundle}
	cf.Config.Labels = map[string]string{
		"org.opencontainers.image.title":  "sidecarkit " + name,
		"org.opencontainers.image.source": "https://github.com/sidecarkit/sidecarkit",
	}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return built{}, err
	}
	if err := os.RemoveAll(dir); err != nil {
		return built{}, err
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return built{}, err
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": "latest"})); err != nil {
		return built{}, err
	}
	d, err := img.Digest()
	if err != nil {
		return built{}, err
	}
	return built{name: name, dir: dir, digest: d, size: st.Size()}, nil
}
