package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sidecarkit/sidecarkit/admission"
)

// configReloader serves the admission.Webhook built from the
// configuration file and rebuilds it when the file, or the sidecarFile it
// names, changes (a ConfigMap mounted as a directory is updated in place by
// the kubelet; a subPath mount never is). The files are checked by check,
// which watch calls every interval: reading (regular files of at most
// maxFileBytes), parsing and building happen there, and the new Webhook
// replaces the old one atomically. Reviews only load the current Webhook:
// they never wait for a check. A configuration that fails to load or build
// keeps the last good one in use, so a bad edit never takes the webhook
// down.
type configReloader struct {
	path     string
	build    func(admission.Config) (*admission.Webhook, error)
	onReload func(err error)

	cur atomic.Pointer[admission.Webhook]

	mu    sync.Mutex // serialises checks; reviews never take it
	files []string
	stamp string
}

// newConfigReloader loads the configuration at path and builds its first
// Webhook with build (which adds what the file does not hold, such as the
// capability source).
func newConfigReloader(path string, build func(admission.Config) (*admission.Webhook, error), onReload func(error)) (*configReloader, error) {
	r := &configReloader{path: path, build: build, onReload: onReload}
	if err := r.load(); err != nil {
		return nil, err
	}
	return r, nil
}

// Webhook returns the current Webhook.
func (r *configReloader) Webhook() *admission.Webhook { return r.cur.Load() }

// check rebuilds the Webhook when the files changed since the last load,
// and reports a reload, or its failure, to onReload.
func (r *configReloader) check() { checkFiles(&r.mu, &r.stamp, r.load, r.onReload) }

// checkFiles runs load under mu and reports to onReload when it failed or
// changed stamp (the loaded files' sizes and mtimes).
func checkFiles(mu *sync.Mutex, stamp *string, load func() error, onReload func(error)) {
	mu.Lock()
	defer mu.Unlock()
	old := *stamp
	err := load()
	if (err != nil || *stamp != old) && onReload != nil {
		onReload(err)
	}
}

// load rebuilds the Webhook when the files changed since the last load.
// Callers hold mu, or own r.
func (r *configReloader) load() error {
	if r.cur.Load() != nil {
		if s, err := fileStamp(r.files); err == nil && s == r.stamp {
			return nil
		}
	}
	cfg, files, err := loadConfigFiles(r.path)
	if err != nil {
		r.stamp, _ = fileStamp(r.files) // do not retry a bad file until it changes again
		return err
	}
	inj, err := r.build(cfg)
	if err != nil {
		r.files = files
		r.stamp, _ = fileStamp(files)
		return fmt.Errorf("%s: %w", r.path, err)
	}
	stamp, err := fileStamp(files)
	if err != nil {
		return err
	}
	r.files, r.stamp = files, stamp
	r.cur.Store(inj)
	return nil
}

// watch calls check every interval until ctx ends; an interval of zero or
// less never calls it.
func watch(ctx context.Context, interval time.Duration, check func()) {
	if interval <= 0 {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			check()
		}
	}
}

// fileStamp identifies the contents of files by size and modification
// time (following symbolic links, as the kubelet's ..data swap needs).
func fileStamp(files []string) (string, error) {
	var b strings.Builder
	for _, f := range files {
		fi, err := os.Stat(f)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "%s:%d/%d;", f, fi.Size(), fi.ModTime().UnixNano())
	}
	return b.String(), nil
}
