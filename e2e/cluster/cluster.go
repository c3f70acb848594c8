// Package cluster runs a real kube-apiserver backed by etcd on 127.0.0.1 for
// the sidecarkit end-to-end tests, with helpers to serve in-process admission
// webhooks and to create test namespaces.
//
// There is no controller-manager, scheduler or kubelet: Pods are admitted,
// validated and stored, and then stay Pending; namespaces get no `default`
// ServiceAccount unless CreateNamespace makes one, and deleted namespaces
// stay Terminating.
//
// The binaries are built by e2e/build.sh into the cache directory
// ($SIDECARKIT_E2E_CACHE, default ~/.cache/sidecarkit-e2e) as
// kube-apiserver-<version> and etcd-<version>.
package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// Environment variables read by Options.Resolve and ForTest.
const (
	// EnvEnable must be "1" for ForTest to run a cluster; otherwise it skips.
	EnvEnable = "SIDECARKIT_E2E"
	// EnvRequire set to "1" turns ForTest's skips into failures (CI).
	EnvRequire = "SIDECARKIT_E2E_REQUIRE"
	// EnvCache is the binary cache directory (default ~/.cache/sidecarkit-e2e).
	EnvCache = "SIDECARKIT_E2E_CACHE"
	// EnvKubeVersion selects the kube-apiserver version (default DefaultKubeVersion).
	EnvKubeVersion = "SIDECARKIT_E2E_KUBE_VERSION"
	// EnvEtcdVersion selects the etcd version (default DefaultEtcdVersion).
	EnvEtcdVersion = "SIDECARKIT_E2E_ETCD_VERSION"
	// EnvKubeAPIServer and EnvEtcd name binaries directly, overriding the cache.
	EnvKubeAPIServer = "SIDECARKIT_E2E_KUBE_APISERVER"
	EnvEtcd          = "SIDECARKIT_E2E_ETCD"
	// EnvFeatureGates holds kube-apiserver feature gates, "A=false,B=true".
	EnvFeatureGates = "SIDECARKIT_E2E_FEATURE_GATES"
	// EnvAPIServerFlags holds extra kube-apiserver flags, separated by spaces.
	EnvAPIServerFlags = "SIDECARKIT_E2E_APISERVER_FLAGS"
)

// Default versions, matching e2e/build.sh.
const (
	DefaultKubeVersion = "v1.37.2"
	DefaultEtcdVersion = "v3.6.16"
)

// ErrNotBuilt is wrapped by the error Resolve returns when a binary is missing.
var ErrNotBuilt = errors.New("binary not built")

// Options configures Start. Zero fields take defaults, some from the
// environment (see Resolve).
type Options struct {
	// KubeVersion is the kube-apiserver version, e.g. "v1.37.2".
	KubeVersion string
	// EtcdVersion is the etcd version, e.g. "v3.6.16".
	EtcdVersion string
	// KubeAPIServer and Etcd are paths of the binaries.
	KubeAPIServer string
	Etcd          string

	// FeatureGates are passed as --feature-gates (sorted by name). Gates from
	// $SIDECARKIT_E2E_FEATURE_GATES come first; these override them.
	FeatureGates map[string]bool
	// ExtraAPIServerFlags are appended to the kube-apiserver command line after
	// the built-in flags and $SIDECARKIT_E2E_APISERVER_FLAGS; for scalar flags
	// the last occurrence wins.
	ExtraAPIServerFlags []string
	// ExtraEtcdFlags are appended to the etcd command line.
	ExtraEtcdFlags []string

	// StartTimeout bounds Start (both processes up and ready). Default 90s.
	StartTimeout time.Duration
	// StopGrace is how long Stop waits after SIGTERM before SIGKILL, per
	// process. Default 10s.
	StopGrace time.Duration

	// LogDir, when set, receives etcd.log and kube-apiserver.log and is kept
	// by Stop. By default the logs live in the cluster's temporary directory
	// and are removed with it.
	LogDir string
	// Logf receives progress messages (for example testing.T.Logf). Optional.
	Logf func(format string, args ...any)
}

// CacheDir returns the binary cache directory: $SIDECARKIT_E2E_CACHE or
// ~/.cache/sidecarkit-e2e.
func CacheDir() string {
	if d := os.Getenv(EnvCache); d != "" {
		return d
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return filepath.Join(os.TempDir(), "sidecarkit-e2e-cache")
	}
	return filepath.Join(home, ".cache", "sidecarkit-e2e")
}

// Resolve returns o with defaults filled in: versions from the environment or
// the defaults, binary paths from the environment or the cache directory,
// feature gates and extra flags merged with the environment's, timeouts. It
// returns an error wrapping ErrNotBuilt when a binary does not exist.
func (o Options) Resolve() (Options, error) {
	o.KubeVersion = firstNonEmpty(o.KubeVersion, os.Getenv(EnvKubeVersion), DefaultKubeVersion)
	o.EtcdVersion = firstNonEmpty(o.EtcdVersion, os.Getenv(EnvEtcdVersion), DefaultEtcdVersion)
	o.KubeAPIServer = firstNonEmpty(o.KubeAPIServer, os.Getenv(EnvKubeAPIServer),
		filepath.Join(CacheDir(), "kube-apiserver-"+o.KubeVersion))
	o.Etcd = firstNonEmpty(o.Etcd, os.Getenv(EnvEtcd), filepath.Join(CacheDir(), "etcd-"+o.EtcdVersion))

	gates, err := parseFeatureGates(os.Getenv(EnvFeatureGates))
	if err != nil {
		return o, fmt.Errorf("parse $%s: %w", EnvFeatureGates, err)
	}
	for k, v := range o.FeatureGates {
		gates[k] = v
	}
	o.FeatureGates = gates
	o.ExtraAPIServerFlags = append(strings.Fields(os.Getenv(EnvAPIServerFlags)), o.ExtraAPIServerFlags...)

	if o.StartTimeout <= 0 {
		o.StartTimeout = 90 * time.Second
	}
	if o.StopGrace <= 0 {
		o.StopGrace = 10 * time.Second
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}

	var missing []string
	for _, bin := range []string{o.KubeAPIServer, o.Etcd} {
		if fi, err := os.Stat(bin); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			missing = append(missing, bin)
		}
	}
	if len(missing) > 0 {
		return o, fmt.Errorf("%w: %s", ErrNotBuilt, strings.Join(missing, ", "))
	}
	return o, nil
}

// FeatureGate reports the value the options give the named gate and whether
// they set it at all.
func (o Options) FeatureGate(name string) (enabled, set bool) {
	enabled, set = o.FeatureGates[name]
	return enabled, set
}

func parseFeatureGates(s string) (map[string]bool, error) {
	gates := map[string]bool{}
	for _, kv := range strings.Split(s, ",") {
		kv = strings.TrimSpace(kv)
		if kv == "" {
			continue
		}
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, fmt.Errorf("feature gate %q: want NAME=true|false", kv)
		}
		b, err := strconv.ParseBool(strings.TrimSpace(v))
		if err != nil {
			return nil, fmt.Errorf("feature gate %q: %w", kv, err)
		}
		gates[strings.TrimSpace(k)] = b
	}
	return gates, nil
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// Timings records how long the phases of Start and Stop took.
type Timings struct {
	PKI       time.Duration // generating certificates and keys
	Etcd      time.Duration // etcd start until /health is ok
	APIServer time.Duration // kube-apiserver start until /readyz is ok
	Start     time.Duration // all of Start
	Stop      time.Duration // all of Stop (zero until stopped)
}

// Cluster is a running etcd plus kube-apiserver. Stop it when done.
type Cluster struct {
	// Dir is the cluster's temporary directory (PKI, etcd data, logs unless
	// Options.LogDir was set). Stop removes it.
	Dir string
	// PKI holds the CA and the certificates, as PEM and files under Dir.
	PKI *PKI
	// EtcdURL is etcd's client URL, http://127.0.0.1:PORT.
	EtcdURL string
	// Host is the apiserver's URL, https://127.0.0.1:PORT.
	Host string
	// Timings of Start and Stop.
	Timings Timings

	opts      Options
	config    *rest.Config
	client    *kubernetes.Clientset
	etcd      *process
	apiserver *process

	stopOnce sync.Once
	stopErr  error

	mu         sync.Mutex
	probeReady bool // the probe namespace has its default ServiceAccount
	webhookSeq int
}

// Start resolves opts (see Options.Resolve), generates the PKI, starts etcd
// and then kube-apiserver on free 127.0.0.1 ports and waits until /readyz is
// ok. On error everything started is stopped again. ctx bounds the start
// only; the processes live until Stop.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	begin := time.Now()
	opts, err := opts.Resolve()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, opts.StartTimeout)
	defer cancel()

	removeStaleDirs(opts.Logf)
	dir, err := os.MkdirTemp("", tempDirPrefix)
	if err != nil {
		return nil, fmt.Errorf("create cluster directory: %w", err)
	}
	c := &Cluster{Dir: dir, opts: opts}
	if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(strconv.Itoa(os.Getpid())), 0o600); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("write %s: %w", ownerFile, err)
	}
	fail := func(err error) (*Cluster, error) {
		if stopErr := c.Stop(); stopErr != nil {
			err = fmt.Errorf("%w (stopping after the failed start: %v)", err, stopErr)
		}
		return nil, err
	}
	logDir := dir
	if opts.LogDir != "" {
		logDir = opts.LogDir
		if err := os.MkdirAll(logDir, 0o755); err != nil {
			return fail(fmt.Errorf("create log directory: %w", err))
		}
	}

	t := time.Now()
	if c.PKI, err = newPKI(dir); err != nil {
		return fail(fmt.Errorf("generate PKI: %w", err))
	}
	c.Timings.PKI = time.Since(t)

	t = time.Now()
	if err := c.startEtcd(ctx, filepath.Join(logDir, "etcd.log")); err != nil {
		return fail(err)
	}
	c.Timings.Etcd = time.Since(t)
	opts.Logf("cluster: etcd %s healthy at %s after %v (pid %d)", opts.EtcdVersion, c.EtcdURL,
		c.Timings.Etcd.Round(time.Millisecond), c.etcd.pid())

	t = time.Now()
	if err := c.startAPIServer(ctx, filepath.Join(logDir, "kube-apiserver.log")); err != nil {
		return fail(err)
	}
	c.Timings.APIServer = time.Since(t)
	c.Timings.Start = time.Since(begin)
	opts.Logf("cluster: kube-apiserver %s ready at %s after %v (pid %d, feature gates %q)", opts.KubeVersion, c.Host,
		c.Timings.APIServer.Round(time.Millisecond), c.apiserver.pid(), featureGatesFlag(opts.FeatureGates))
	return c, nil
}

const (
	tempDirPrefix = "sidecarkit-e2e-"
	// ownerFile in a cluster directory holds the PID of the process that
	// made it.
	ownerFile = "owner.pid"
)

// removeStaleDirs removes cluster directories whose owner process is gone: a
// test binary killed by `go test -timeout` cannot run Stop (its children die
// with it, see startProcess), and etcd preallocates 64 MB of WAL.
func removeStaleDirs(logf func(string, ...any)) {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), tempDirPrefix+"*"))
	for _, d := range dirs {
		data, err := os.ReadFile(filepath.Join(d, ownerFile))
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
		if err != nil || pid <= 0 || pid == os.Getpid() {
			continue
		}
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			continue // alive, or not ours to judge
		}
		if err := os.RemoveAll(d); err == nil {
			logf("cluster: removed %s left by pid %d, which is gone", d, pid)
		}
	}
}

// startAttempts is how often a process is started on fresh ports when it
// exits early (for example because another process took a port meanwhile).
const startAttempts = 3

func (c *Cluster) startEtcd(ctx context.Context, logPath string) error {
	var lastErr error
	for attempt := 1; attempt <= startAttempts; attempt++ {
		ports, err := freePorts(2)
		if err != nil {
			return err
		}
		client := fmt.Sprintf("http://127.0.0.1:%d", ports[0])
		peer := fmt.Sprintf("http://127.0.0.1:%d", ports[1])
		args := []string{
			"--name=e2e",
			"--data-dir=" + filepath.Join(c.Dir, "etcd"),
			"--listen-client-urls=" + client,
			"--advertise-client-urls=" + client,
			"--listen-peer-urls=" + peer,
			"--initial-advertise-peer-urls=" + peer,
			"--initial-cluster=e2e=" + peer,
			"--unsafe-no-fsync",
		}
		args = append(args, c.opts.ExtraEtcdFlags...)
		p, err := startProcess("etcd", c.opts.Etcd, args, logPath)
		if err != nil {
			return err
		}
		c.etcd, c.EtcdURL = p, client
		err = waitFor(ctx, p, 50*time.Millisecond, func(ctx context.Context) error {
			return etcdHealthy(ctx, client)
		})
		if err == nil {
			return nil
		}
		lastErr = fmt.Errorf("start etcd: %w", err)
		if !p.exited() {
			return lastErr
		}
		// Exited early: try again on other ports with a fresh data directory.
		c.etcd = nil
		os.RemoveAll(filepath.Join(c.Dir, "etcd"))
		c.opts.Logf("cluster: etcd attempt %d failed: %v", attempt, err)
	}
	return lastErr
}

func etcdHealthy(ctx context.Context, clientURL string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, clientURL+"/health", nil)
	if err != nil {
		return err
	}
	resp, err := noProxyHTTPClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"health":"true"`) {
		return fmt.Errorf("etcd /health: %s %s", resp.Status, strings.TrimSpace(string(body)))
	}
	return nil
}

var noProxyHTTPClient = &http.Client{
	Transport: &http.Transport{Proxy: nil},
	Timeout:   2 * time.Second,
}

func (c *Cluster) startAPIServer(ctx context.Context, logPath string) error {
	var lastErr error
	for attempt := 1; attempt <= startAttempts; attempt++ {
		ports, err := freePorts(1)
		if err != nil {
			return err
		}
		host := fmt.Sprintf("https://127.0.0.1:%d", ports[0])
		args := []string{
			"--etcd-servers=" + c.EtcdURL,
			"--bind-address=127.0.0.1",
			"--advertise-address=127.0.0.1",
			"--secure-port=" + strconv.Itoa(ports[0]),
			"--tls-cert-file=" + c.PKI.APIServerCertFile,
			"--tls-private-key-file=" + c.PKI.APIServerKeyFile,
			"--client-ca-file=" + c.PKI.CAFile,
			"--service-account-issuer=https://kubernetes.default.svc",
			"--service-account-key-file=" + c.PKI.ServiceAccountPublicKeyFile,
			"--service-account-signing-key-file=" + c.PKI.ServiceAccountPrivateKeyFile,
			"--service-cluster-ip-range=10.0.0.0/24",
			"--authorization-mode=RBAC",
			// A loopback advertise address makes the default endpoint
			// reconciler exit the apiserver.
			"--endpoint-reconciler-type=none",
			"--cert-dir=" + filepath.Join(c.Dir, "apiserver-certs"),
		}
		if len(c.opts.FeatureGates) > 0 {
			args = append(args, "--feature-gates="+featureGatesFlag(c.opts.FeatureGates))
		}
		args = append(args, c.opts.ExtraAPIServerFlags...)

		cfg := &rest.Config{
			Host:      host,
			UserAgent: "sidecarkit-e2e",
			TLSClientConfig: rest.TLSClientConfig{
				CAData:   c.PKI.CACert,
				CertData: c.PKI.AdminCert,
				KeyData:  c.PKI.AdminKey,
			},
			// Loopback never goes through a proxy, whatever the environment says.
			Proxy:   func(*http.Request) (*url.URL, error) { return nil, nil },
			QPS:     200,
			Burst:   400,
			Timeout: 30 * time.Second,
		}
		client, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			return fmt.Errorf("create client for %s: %w", host, err)
		}

		p, err := startProcess("kube-apiserver", c.opts.KubeAPIServer, args, logPath)
		if err != nil {
			return err
		}
		c.apiserver, c.Host, c.config, c.client = p, host, cfg, client
		err = waitFor(ctx, p, 100*time.Millisecond, func(ctx context.Context) error {
			ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
			body, err := client.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
			if err != nil {
				if b := strings.TrimSpace(string(body)); b != "" {
					return fmt.Errorf("/readyz: %w: %s", err, b)
				}
				return fmt.Errorf("/readyz: %w", err)
			}
			return nil
		})
		if err == nil {
			return nil
		}
		lastErr = fmt.Errorf("start kube-apiserver: %w", err)
		if !p.exited() || !strings.Contains(tailFile(logPath, 30), "address already in use") {
			return lastErr
		}
		c.apiserver = nil
		c.opts.Logf("cluster: kube-apiserver attempt %d failed: %v", attempt, err)
	}
	return lastErr
}

// waitFor polls check until it succeeds, the process exits, or ctx ends.
func waitFor(ctx context.Context, p *process, interval time.Duration, check func(context.Context) error) error {
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	var last error
	for {
		if last = check(ctx); last == nil {
			return nil
		}
		select {
		case <-p.done:
			return p.exitError()
		case <-ctx.Done():
			return fmt.Errorf("not ready (%w); last check: %v; last log lines:\n%s", ctx.Err(), last, tailFile(p.logPath, 30))
		case <-ticker.C:
		}
	}
}

func featureGatesFlag(gates map[string]bool) string {
	names := make([]string, 0, len(gates))
	for k := range gates {
		names = append(names, k)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, k := range names {
		parts[i] = k + "=" + strconv.FormatBool(gates[k])
	}
	return strings.Join(parts, ",")
}

// Config returns a copy of the admin client configuration (client
// certificate with O=system:masters). Requests time out after 30s, watches
// included; clear Timeout on the copy for long watches.
func (c *Cluster) Config() *rest.Config { return rest.CopyConfig(c.config) }

// Client returns the admin clientset.
func (c *Cluster) Client() kubernetes.Interface { return c.client }

// Options returns the effective options the cluster was started with.
func (c *Cluster) Options() Options { return c.opts }

// APIServerPID returns the kube-apiserver's process ID (0 if none started).
func (c *Cluster) APIServerPID() int {
	if c.apiserver == nil {
		return 0
	}
	return c.apiserver.pid()
}

// EtcdPID returns etcd's process ID (0 if none started).
func (c *Cluster) EtcdPID() int {
	if c.etcd == nil {
		return 0
	}
	return c.etcd.pid()
}

// APIServerLog returns the last n lines of the kube-apiserver log (the log is
// gone after Stop unless Options.LogDir was set).
func (c *Cluster) APIServerLog(n int) string {
	if c.apiserver == nil {
		return ""
	}
	return tailFile(c.apiserver.logPath, n)
}

// Stop stops kube-apiserver and then etcd (SIGTERM, SIGKILL after
// Options.StopGrace; signalled by PID) and removes the temporary directory.
// It is safe to call more than once and from a failed Start.
func (c *Cluster) Stop() error {
	c.stopOnce.Do(func() {
		begin := time.Now()
		var errs []error
		// The apiserver first: with etcd gone it lingers for a long time.
		for _, p := range []*process{c.apiserver, c.etcd} {
			if p == nil {
				continue
			}
			killed, err := p.stop(c.opts.StopGrace)
			if err != nil {
				errs = append(errs, err)
			}
			if killed {
				c.opts.Logf("cluster: %s (pid %d) ignored SIGTERM for %v, killed", p.name, p.pid(), c.opts.StopGrace)
			}
		}
		if c.Dir != "" {
			if err := os.RemoveAll(c.Dir); err != nil {
				errs = append(errs, fmt.Errorf("remove %s: %w", c.Dir, err))
			}
		}
		c.Timings.Stop = time.Since(begin)
		c.stopErr = errors.Join(errs...)
	})
	return c.stopErr
}
