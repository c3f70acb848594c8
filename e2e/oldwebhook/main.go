// Command oldwebhook is a minimal mutating admission webhook built against
// the oldest Kubernetes API the library supports (k8s.io/api v0.28.0). The e2e
// tests run it in front of a kube-apiserver v1.37 to prove that Pod fields its
// compiled types do not know (pod-level resources, hostnameOverride,
// restartPolicyRules, ...) survive sidecarkit's JSON patches.
//
//	oldwebhook -cert FILE -key FILE -sidecar FILE [-listen 127.0.0.1:0]
//	           [-mode auto|native|legacy|pinned] [-apiserver-version v1.37.2] [-naive]
//
// It serves AdmissionReview v1 on POST /mutate and "ok" on GET /healthz, and
// prints "listening on HOST:PORT" on stdout once it accepts connections.
// Flags may also come from the environment as OLDWEBHOOK_<FLAG> (upper case,
// dashes as underscores); a flag on the command line wins.
//
// -naive answers like the webhooks the library replaces: it applies the
// mutation to the typed Pod and replaces the whole spec with the re-encoded
// result, which drops every field the compiled types lack. The e2e tests use
// it as the control that shows their check can fail.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/sidecarkit/sidecarkit/compat"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "oldwebhook:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("oldwebhook", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:0", "address to listen on")
	cert := fs.String("cert", "", "TLS serving certificate (PEM)")
	key := fs.String("key", "", "TLS serving key (PEM)")
	specFile := fs.String("sidecar", "", "sidecar spec (YAML or JSON, see sidecar.LoadSpec)")
	mode := fs.String("mode", "native", "injection mode: "+"auto, native, legacy, pinned, universal")
	apiserverVersion := fs.String("apiserver-version", "", "the API server's version, for the capability (empty: unknown)")
	naive := fs.Bool("naive", false, "replace the whole spec with the re-encoded typed spec (drops unknown fields; a control for tests)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := flagsFromEnv(fs, os.Getenv); err != nil {
		return err
	}
	if *cert == "" || *key == "" || *specFile == "" {
		return errors.New("-cert, -key and -sidecar are required")
	}
	h, err := newHandler(*specFile, *mode, *apiserverVersion, *naive)
	if err != nil {
		return err
	}

	mux := http.NewServeMux()
	mux.Handle("/mutate", h)
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") })
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "listening on %s\n", ln.Addr())

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.ServeTLS(ln, *cert, *key) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return srv.Shutdown(shutdown)
	}
}

// flagsFromEnv sets every flag not given on the command line from
// OLDWEBHOOK_<NAME> when that variable is set.
func flagsFromEnv(fs *flag.FlagSet, getenv func(string) string) error {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if given[f.Name] || err != nil {
			return
		}
		env := "OLDWEBHOOK_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v := getenv(env); v != "" {
			if e := fs.Set(f.Name, v); e != nil {
				err = fmt.Errorf("$%s: %w", env, e)
			}
		}
	})
	return err
}

// capability is what the -apiserver-version flag says: the API server's
// own capability joined with the oldest kubelet the skew policy allows.
func capability(apiserverVersion string) (compat.Capability, error) {
	if apiserverVersion == "" {
		return compat.Capability{}, nil
	}
	api, err := compat.ParseAPIServerVersion(apiserverVersion)
	if err != nil {
		return compat.Capability{}, fmt.Errorf("-apiserver-version: %w", err)
	}
	skew, err := compat.FromSkewPolicy(apiserverVersion)
	if err != nil {
		return compat.Capability{}, fmt.Errorf("-apiserver-version: %w", err)
	}
	return skew.Override(api), nil
}
