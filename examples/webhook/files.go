package main

import (
	"fmt"
	"io"
	"os"
	"syscall"
)

// maxFileBytes bounds every file the webhook reads (configuration,
// sidecarFile, certificate, key, client CA): a few KiB each in practice.
const maxFileBytes = 1 << 20

// readFile reads the regular file at path, at most maxFileBytes of it. It
// refuses anything else before reading a byte: a device (/dev/zero would
// exhaust memory), a FIFO (would block), a directory, or a file over the
// limit. The file is opened without blocking (a FIFO swapped in after the
// check would otherwise block the open) and checked again once open.
func readFile(path string) ([]byte, error) {
	if err := regularFile(path); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if err := checkRegular(path, fi); err != nil {
		return nil, err
	}
	b, err := io.ReadAll(io.LimitReader(f, maxFileBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxFileBytes {
		return nil, fmt.Errorf("%s: file is larger than the limit of %d bytes", path, maxFileBytes)
	}
	return b, nil
}

// regularFile checks path (following symbolic links, as the kubelet's
// ..data swap of a mounted ConfigMap or Secret needs) without opening it.
func regularFile(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	return checkRegular(path, fi)
}

func checkRegular(path string, fi os.FileInfo) error {
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s: not a regular file (%s)", path, fi.Mode().Type())
	}
	if fi.Size() > maxFileBytes {
		return fmt.Errorf("%s: file of %d bytes is larger than the limit of %d bytes", path, fi.Size(), maxFileBytes)
	}
	return nil
}
