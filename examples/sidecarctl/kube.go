package main

import (
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// defaultRequestTimeout bounds every API call of the live doctor commands
// unless --request-timeout says otherwise. kubectl's default is no timeout;
// a diagnosis must not hang on an unresponsive API server or node.
const defaultRequestTimeout = "30s"

// fieldManager is the field manager of the doctor's dry-run probe: its
// managedFields entry in the result is the evidence that the API server
// received restartPolicy.
const fieldManager = "sidecarctl-doctor"

// kubeFlags are kubectl's connection flags, the subset a read-mostly
// diagnosis needs: --kubeconfig, --context, --cluster, --user,
// -n/--namespace, --request-timeout, --as and --as-group, bound through
// client-go's clientcmd as kubectl binds them.
type kubeFlags struct {
	kubeconfig string
	overrides  clientcmd.ConfigOverrides
}

func (k *kubeFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&k.kubeconfig, "kubeconfig", "", "path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)")
	all := clientcmd.RecommendedConfigOverrideFlags("")
	names := clientcmd.ConfigOverrideFlags{
		CurrentContext: all.CurrentContext,
		Timeout:        all.Timeout,
		ContextOverrideFlags: clientcmd.ContextOverrideFlags{
			ClusterName:  all.ContextOverrideFlags.ClusterName,
			AuthInfoName: all.ContextOverrideFlags.AuthInfoName,
			Namespace:    all.ContextOverrideFlags.Namespace,
		},
		AuthOverrideFlags: clientcmd.AuthOverrideFlags{
			Impersonate:       all.AuthOverrideFlags.Impersonate,
			ImpersonateGroups: all.AuthOverrideFlags.ImpersonateGroups,
		},
	}
	names.Timeout.Default = defaultRequestTimeout
	names.Timeout.Description = "the length of time to wait before giving up on a single server request (e.g. 10s, 2m; a bare number is seconds); the doctor bounds every call, so it must be positive"
	clientcmd.BindOverrideFlags(&k.overrides, fl, names)
}

// changed reports whether any connection flag was given.
func (k *kubeFlags) changed(cmd *cobra.Command) string {
	for _, name := range []string{"kubeconfig", "context", "cluster", "user", "namespace", "request-timeout", "as", "as-group"} {
		if f := cmd.Flags().Lookup(name); f != nil && f.Changed {
			return "--" + name
		}
	}
	return ""
}

// kube is a connection to the cluster the flags name.
type kube struct {
	client    kubernetes.Interface
	config    *rest.Config
	context   string // the kubeconfig context, "" when none
	namespace string // -n, else the context's, else "default"
	timeout   time.Duration
}

// connect loads the kubeconfig as kubectl does and builds a client whose
// every request is bounded by --request-timeout.
func (k *kubeFlags) connect() (*kube, error) {
	timeout, err := parseRequestTimeout(k.overrides.Timeout)
	if err != nil {
		return nil, err
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = k.kubeconfig
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &k.overrides)
	config, err := cc.ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	ns, _, err := cc.Namespace()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: namespace: %w", err)
	}
	raw, err := cc.RawConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	ctxName := raw.CurrentContext
	if k.overrides.CurrentContext != "" {
		ctxName = k.overrides.CurrentContext
	}
	config.Timeout = timeout
	config.UserAgent = "sidecarctl-doctor"
	// A diagnosis makes a bounded number of calls; do not let client-side
	// throttling stretch them past their timeouts.
	config.QPS, config.Burst = 50, 100
	client, err := kubernetes.NewForConfig(config)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	return &kube{client: client, config: config, context: ctxName, namespace: ns, timeout: timeout}, nil
}

// parseRequestTimeout reads --request-timeout as kubectl does (a bare
// number is seconds) and requires a positive value.
func parseRequestTimeout(s string) (time.Duration, error) {
	if s == "" {
		s = defaultRequestTimeout
	}
	var d time.Duration
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		d = time.Duration(n) * time.Second
	} else if d, err = time.ParseDuration(s); err != nil {
		return 0, fmt.Errorf("--request-timeout %q: want a duration like 30s or 2m", s)
	}
	if d <= 0 {
		return 0, fmt.Errorf("--request-timeout %q: must be positive (the doctor bounds every call to the API server)", s)
	}
	return d, nil
}
