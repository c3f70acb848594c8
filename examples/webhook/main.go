// Command webhook is a production-shaped mutating admission webhook that
// injects one sidecar into Pods with package admission: HTTPS with
// certificate reload, AdmissionReview v1, capability from flags or from a
// Node informer, health endpoints, request limits, graceful shutdown and
// structured logs. See README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/sidecarkit/sidecarkit/admission"
	"github.com/sidecarkit/sidecarkit/compat"
)

type flags struct {
	config, certFile, keyFile, addr  string
	metricsAddr                      string
	clientCAFile                     string
	kubeconfig                       string
	nodes                            bool
	kubeletVersion, apiserverVersion string
	certCheck, configCheck           time.Duration
	shutdownGrace                    time.Duration
	webhookTimeout                   time.Duration
	maxBodyBytes, maxInFlightBytes   int64
	logLevel                         string
}

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "webhook:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string, stderr io.Writer) (*flags, error) {
	f := &flags{}
	fs := flag.NewFlagSet("webhook", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.config, "config", "/etc/webhook/config/config.yaml", "the configuration file (YAML); reloaded when it or its sidecarFile changes")
	fs.StringVar(&f.certFile, "tls-cert-file", "/etc/webhook/tls/tls.crt", "the serving certificate (PEM); reloaded when it changes")
	fs.StringVar(&f.keyFile, "tls-key-file", "/etc/webhook/tls/tls.key", "the serving key (PEM); reloaded when it changes")
	fs.StringVar(&f.clientCAFile, "client-ca-file", "", "require client certificates signed by a CA in this file (PEM), e.g. the API server's (see README.md); reloaded when it changes")
	fs.StringVar(&f.addr, "addr", ":8443", "the HTTPS listen address")
	fs.StringVar(&f.metricsAddr, "metrics-addr", "", "serve Prometheus /metrics over plain HTTP at this address, e.g. :9090; empty: no metrics listener")
	fs.BoolVar(&f.nodes, "watch-nodes", false, "read the capability from a Node informer and the API server's version (needs RBAC: nodes list/watch)")
	fs.StringVar(&f.kubeconfig, "kubeconfig", "", "a kubeconfig for --watch-nodes; in-cluster configuration when empty")
	fs.StringVar(&f.kubeletVersion, "kubelet-version", "", "the oldest kubelet's version, e.g. v1.29.3 (static capability)")
	fs.StringVar(&f.apiserverVersion, "apiserver-version", "", "the API server's version, e.g. v1.33.1 (static capability)")
	fs.DurationVar(&f.certCheck, "cert-check-interval", 10*time.Second, "how often to check the certificate files (and the client CA file) for changes; 0: never")
	fs.DurationVar(&f.configCheck, "config-check-interval", 10*time.Second, "how often to check the configuration file (and its sidecarFile) for changes; a change is applied to the next reviews, a bad one logged and ignored; 0: never")
	fs.DurationVar(&f.shutdownGrace, "shutdown-grace", 20*time.Second, "how long in-flight reviews may take after SIGTERM")
	fs.DurationVar(&f.webhookTimeout, "webhook-timeout", 10*time.Second, "the timeoutSeconds of the MutatingWebhookConfiguration (the API server's default is 10s): the longest a review may take; the server's timeouts derive from it")
	fs.Int64Var(&f.maxBodyBytes, "max-body-bytes", admission.DefaultMaxBodyBytes, "the request body limit")
	fs.Int64Var(&f.maxInFlightBytes, "max-in-flight-bytes", admission.DefaultMaxInFlightBytes, "the limit on the sum of the body lengths of the reviews in flight; beyond it, requests are answered 429 at once")
	fs.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if f.webhookTimeout < time.Second || f.webhookTimeout > 30*time.Second {
		return nil, fmt.Errorf("--webhook-timeout: %v is not between 1s and 30s (timeoutSeconds' range)", f.webhookTimeout)
	}
	return f, nil
}

// run starts the webhook and serves until SIGTERM or SIGINT (or ctx ends).
func run(ctx context.Context, args []string, stderr io.Writer) error {
	f, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(f.logLevel)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level}))
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	// The reloaders' watches end with run.
	var watches sync.WaitGroup
	defer watches.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	base, err := staticCapability(f.apiserverVersion, f.kubeletVersion)
	if err != nil {
		return err
	}
	ready := func() error { return nil }
	var capability func(context.Context, *admission.Request) (compat.Capability, error)
	if f.nodes {
		client, err := kubeClient(f.kubeconfig)
		if err != nil {
			return err
		}
		src, err := newNodeSource(ctx, client, base, log)
		if err != nil {
			return err
		}
		capability = src.capability
		ready = func() error {
			if !src.synced() {
				return errors.New("node informer not synced")
			}
			return nil
		}
	} else {
		log.Info("static capability", "capability", base.String())
		capability = func(context.Context, *admission.Request) (compat.Capability, error) { return base, nil }
	}
	configs, err := newConfigReloader(f.config, func(cfg admission.Config) (*admission.Webhook, error) {
		cfg.Capability = capability
		inj, err := admission.New(cfg)
		if err == nil {
			log.Info("configuration", "config", f.config, "sidecar", cfg.Spec.Container.Name, "mode", cfg.Options.Mode.String())
		}
		return inj, err
	}, func(err error) {
		if err != nil {
			log.Error("configuration reload failed; serving the previous one", "err", err)
		} else {
			log.Info("configuration reloaded", "config", f.config)
		}
	})
	if err != nil {
		return err
	}
	certs, err := newCertReloader(f.certFile, f.keyFile, f.clientCAFile, func(err error) {
		if err != nil {
			log.Error("certificate reload failed; serving the previous one", "err", err)
		} else {
			log.Info("certificate reloaded")
		}
	})
	if err != nil {
		return err
	}
	if f.clientCAFile != "" {
		log.Info("client certificates required", "clientCAFile", f.clientCAFile)
	}
	watches.Add(2)
	go func() { defer watches.Done(); watch(ctx, f.configCheck, configs.check) }()
	go func() { defer watches.Done(); watch(ctx, f.certCheck, certs.check) }()
	l, err := net.Listen("tcp", f.addr)
	if err != nil {
		return err
	}
	log.Info("serving", "addr", l.Addr().String())
	m := newMetrics()
	if f.metricsAddr != "" {
		ml, err := net.Listen("tcp", f.metricsAddr)
		if err != nil {
			l.Close()
			return fmt.Errorf("--metrics-addr: %w", err)
		}
		log.Info("serving metrics", "addr", ml.Addr().String())
		mctx, stopMetrics := context.WithCancel(context.Background())
		watches.Add(1)
		go func() {
			defer watches.Done()
			if err := m.serve(mctx, ml); err != nil {
				log.Error("metrics server", "err", err)
			}
		}()
		// Served until run returns, after the webhook's own shutdown.
		defer stopMetrics()
	}
	s := newServer(serverOptions{webhook: configs.Webhook, certs: certs, maxBodyBytes: f.maxBodyBytes, maxInFlightBytes: f.maxInFlightBytes,
		webhookTimeout: f.webhookTimeout, ready: ready, log: log, metrics: m})
	err = s.serve(ctx, l, f.shutdownGrace)
	log.Info("stopped", "err", err)
	return err
}

func kubeClient(kubeconfig string) (kubernetes.Interface, error) {
	var rc *rest.Config
	var err error
	if kubeconfig != "" {
		rc, err = clientcmd.BuildConfigFromFlags("", kubeconfig)
	} else {
		rc, err = rest.InClusterConfig()
	}
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	rc.UserAgent = "sidecarkit-webhook"
	return kubernetes.NewForConfig(rc)
}
