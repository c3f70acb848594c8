// Command images builds the example webhook's and operator's container
// images without a Docker daemon: each static binary (CGO_ENABLED=0) in a
// layer of its own on a base layer with a passwd naming the nonroot user
// (65532), /tmp and Debian's CA bundle, written as an OCI image layout
// (go-containerregistry). Run from the examples module:
//
//	go run ./images -out /tmp/images            # both
//	go run ./images -out /tmp/images webhook    # one
//
// Push a layout with crane (crane push /tmp/images/webhook REGISTRY/webhook:TAG)
// or skopeo (skopeo copy oci:/tmp/images/webhook:latest docker://...).
// images_test.go builds both, unpacks each and runs its entrypoint.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
)

func main() {
	out := flag.String("out", "images-out", "the directory the OCI layouts are written under, one per image")
	goTool := flag.String("go", "go", "the go command")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: go run ./images [-out DIR] [webhook|operator ...]\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	names := flag.Args()
	if len(names) == 0 {
		names = images
	}
	for _, n := range names {
		if n != "webhook" && n != "operator" {
			fmt.Fprintf(os.Stderr, "images: unknown image %q (want webhook or operator)\n", n)
			os.Exit(2)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	logf := func(f string, a ...any) { fmt.Fprintf(os.Stderr, f+"\n", a...) }
	res, err := buildAll(ctx, *goTool, ".", *out, names, logf)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for _, b := range res {
		fmt.Printf("%s\t%s\t%s\n", b.name, b.dir, b.digest)
	}
}
