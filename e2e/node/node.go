// Package node runs real kubelets (with containerd and runc) registered to
// the e2e kube-apiserver of package cluster, and tests the universal pair
// on them: see README.md. The tests skip unless e2e/node/run.sh runs them.
package node

import (
	"bufio"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/sidecarkit/sidecarkit/e2e/cluster"
)

// Images the nodes import (built by run.sh with tools/images).
const (
	PauseImage    = "sidecarkit.test/pause:1"
	NodetestImage = "sidecarkit.test/nodetest:1"
)

// Options describe one node.
type Options struct {
	// Name is the Node's name (--hostname-override); Index (0..250) picks
	// its bridge and pod subnet.
	Name  string
	Index int
	// Kubelet is the kubelet binary; Version its version (v1.27.16).
	Kubelet, Version string
	// FeatureGates go into the kubelet configuration.
	FeatureGates map[string]bool
	// Containerd, Ctr: binaries (default: from $PATH). CNIBinDir holds
	// the bridge, host-local and loopback plugins (default /usr/lib/cni).
	Containerd, Ctr, CNIBinDir string
	// Images are image tarballs imported into the node's containerd.
	Images []string
	// LogDir, when set, receives the kubelet's and containerd's logs
	// (<LogDir>/<Name>-kubelet.log, ...) when the node stops.
	LogDir string
	Logf   func(format string, args ...any)
}

// Node is a running containerd and kubelet, registered as a Node.
type Node struct {
	Name string
	// Dir holds everything of the node: containerd's root and state, the
	// kubelet's root, logs, configuration, and Events (hostPath volumes
	// the test Pods write their event files to).
	Dir    string
	Events string
	// PodLogs is the kubelet's pod log directory.
	PodLogs string
	// Minor is the kubelet's minor version.
	Minor int

	opts       Options
	client     kubernetes.Interface
	containerd *process
	kubelet    *process
	sock       string
	cgroupRoot string
	bridge     string
	netns      map[string]bool // /run/netns entries before the node started
	oldLogs    map[string]bool // /var/log/pods entries before (kubelets < 1.31)
	host       *hostState      // sysctls and iptables chains before the kubelet started
}

// Start starts containerd and the kubelet and waits until the Node is Ready.
// On error, what was started is stopped again.
func Start(ctx context.Context, c *cluster.Cluster, o Options) (*Node, error) {
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	if o.Containerd == "" {
		o.Containerd = "containerd"
	}
	if o.Ctr == "" {
		o.Ctr = "ctr"
	}
	if o.CNIBinDir == "" {
		o.CNIBinDir = "/usr/lib/cni"
	}
	minor, err := minorOf(o.Version)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("/var/lib", "sidecarkit-node-")
	if err != nil {
		return nil, err
	}
	n := &Node{
		Name: o.Name, Dir: dir, Events: filepath.Join(dir, "events"), Minor: minor, opts: o, client: c.Client(),
		sock:       filepath.Join(dir, "containerd.sock"),
		cgroupRoot: "/sidecarkit-" + filepath.Base(dir),
		bridge:     fmt.Sprintf("sknode%d", o.Index),
		netns:      listDir("/run/netns"),
	}
	n.PodLogs = filepath.Join(dir, "pods")
	if minor < 31 { // podLogsDir is configurable from 1.31 on
		n.PodLogs = "/var/log/pods"
		n.oldLogs = listDir(n.PodLogs)
	}
	fail := func(err error) (*Node, error) {
		if serr := n.Stop(context.Background()); serr != nil {
			err = fmt.Errorf("%w (stopping: %v)", err, serr)
		}
		return nil, err
	}
	for _, d := range []string{"cni", "ipam", "kubelet", "pods", "events", "runc"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return fail(err)
		}
	}
	if err := n.writeFiles(c); err != nil {
		return fail(err)
	}
	if err := n.makeCgroupRoot(); err != nil {
		return fail(err)
	}
	if n.containerd, err = start("containerd", o.Containerd, []string{"--config", filepath.Join(dir, "containerd.toml")}, filepath.Join(dir, "containerd.log")); err != nil {
		return fail(err)
	}
	if err := wait(ctx, n.containerd, func() error {
		_, err := n.ctr(ctx, "version")
		return err
	}); err != nil {
		return fail(fmt.Errorf("containerd: %w", err))
	}
	for _, img := range o.Images {
		if out, err := n.ctr(ctx, "images", "import", img); err != nil {
			return fail(fmt.Errorf("import %s: %w: %s", img, err, out))
		}
	}
	t := time.Now()
	saved := saveHost()
	n.host = &saved
	if err := n.startKubelet(ctx, time.Time{}); err != nil {
		return fail(err)
	}
	o.Logf("node %s: kubelet %s Ready after %v (dir %s)", o.Name, o.Version, time.Since(t).Round(time.Millisecond), dir)
	return n, nil
}

// startKubelet starts n.opts.Kubelet and waits until the Node reports
// its version and Ready, with a heartbeat after since (unless zero).
func (n *Node) startKubelet(ctx context.Context, since time.Time) error {
	args := []string{
		"--config=" + filepath.Join(n.Dir, "kubelet.yaml"),
		"--kubeconfig=" + filepath.Join(n.Dir, "kubeconfig"),
		"--root-dir=" + filepath.Join(n.Dir, "kubelet"),
		"--hostname-override=" + n.Name,
		"--v=2",
	}
	var err error
	if n.kubelet, err = start("kubelet", n.opts.Kubelet, args, filepath.Join(n.Dir, "kubelet.log")); err != nil {
		return err
	}
	if err := wait(ctx, n.kubelet, func() error { return n.readySince(ctx, since) }); err != nil {
		return fmt.Errorf("kubelet %s: %w", n.opts.Version, err)
	}
	return nil
}

// ReplaceKubelet stops the node's kubelet (SIGTERM, as a node's service
// manager does) and starts bin, of version, with the same root directory,
// configuration (written for the new version, with gates) and
// containerd: the containers keep running. With the same binary and
// version it is a kubelet restart; with a newer one, an in-place
// upgrade. It returns when the Node reports the new kubelet Ready.
func (n *Node) ReplaceKubelet(ctx context.Context, bin, version string, gates map[string]bool) error {
	minor, err := minorOf(version)
	if err != nil {
		return err
	}
	t := time.Now()
	if err := n.kubelet.stop(30 * time.Second); err != nil {
		return fmt.Errorf("stop kubelet %s: %w", n.opts.Version, err)
	}
	n.opts.Kubelet, n.opts.Version, n.opts.FeatureGates, n.Minor = bin, version, gates, minor
	cfg, err := n.kubeletConfig()
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(n.Dir, "kubelet.yaml"), []byte(cfg), 0o600); err != nil {
		return err
	}
	if err := n.startKubelet(ctx, t); err != nil {
		return err
	}
	n.opts.Logf("node %s: kubelet %s (in place) Ready after %v", n.Name, version, time.Since(t).Round(time.Millisecond))
	return nil
}

func minorOf(v string) (int, error) {
	parts := strings.Split(strings.TrimPrefix(v, "v"), ".")
	if len(parts) < 2 || parts[0] != "1" {
		return 0, fmt.Errorf("node: kubelet version %q is not v1.MINOR.PATCH", v)
	}
	return strconv.Atoi(parts[1])
}

// readySince reports whether the Node is Ready, run by a kubelet of
// n.opts.Version that sent a heartbeat after since (unless zero), so that
// a kubelet started in place does not pass on its predecessor's status.
func (n *Node) readySince(ctx context.Context, since time.Time) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	node, err := n.client.CoreV1().Nodes().Get(ctx, n.Name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	if v := node.Status.NodeInfo.KubeletVersion; v != n.opts.Version {
		return fmt.Errorf("node %s reports kubelet %q, want %s", n.Name, v, n.opts.Version)
	}
	for _, c := range node.Status.Conditions {
		if c.Type == corev1.NodeReady {
			if c.Status != corev1.ConditionTrue {
				return fmt.Errorf("node %s not ready: %s: %s", n.Name, c.Reason, c.Message)
			}
			// Heartbeats have a resolution of a second: one stamped in
			// since's second may be the predecessor's, and is not enough.
			if !since.IsZero() && !c.LastHeartbeatTime.Time.After(since) {
				return fmt.Errorf("node %s: last heartbeat %v, before %v", n.Name, c.LastHeartbeatTime.Time, since)
			}
			return nil
		}
	}
	return fmt.Errorf("node %s has no Ready condition yet", n.Name)
}

// wait polls check until it passes, p exits, or ctx ends.
func wait(ctx context.Context, p *process, check func() error) error {
	var last error
	for {
		if last = check(); last == nil {
			return nil
		}
		if p.exited() {
			return p.exitError()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %v); last log lines:\n%s", ctx.Err(), last, tail(p.logPath, 20))
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (n *Node) ctr(ctx context.Context, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	args = append([]string{"--address", n.sock, "--namespace", "k8s.io"}, args...)
	return exec.CommandContext(ctx, n.opts.Ctr, args...).CombinedOutput()
}

func (n *Node) writeFiles(c *cluster.Cluster) error {
	d := n.Dir
	containerd := fmt.Sprintf(`version = 2
root = %[1]q
state = %[2]q
[grpc]
  address = %[3]q
[plugins."io.containerd.internal.v1.opt"]
  path = %[4]q
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = %[5]q
  # The sandbox lacks CAP_SYS_RESOURCE: runc cannot lower oom_score_adj.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = %[6]q
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = %[7]q
    conf_dir = %[8]q
`, filepath.Join(d, "containerd/root"), filepath.Join(d, "containerd/state"), n.sock, filepath.Join(d, "opt"),
		PauseImage, filepath.Join(d, "runc"), n.opts.CNIBinDir, filepath.Join(d, "cni"))
	// A bridge on a subnet of its own; no gateway, no masquerading: the
	// Pods talk only to themselves (the tests use 127.0.0.1 inside the
	// Pod), containerd just needs an eth0 with an address.
	cni := fmt.Sprintf(`{"cniVersion": "1.0.0", "name": "sidecarkit-%[1]s", "plugins": [
  {"type": "bridge", "bridge": %[2]q, "isGateway": false, "ipMasq": false,
   "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.213.%[3]d.0/24"}]], "dataDir": %[4]q}},
  {"type": "loopback"}]}
`, n.Name, n.bridge, n.opts.Index, filepath.Join(d, "ipam"))
	kubeconfig := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: e2e
  cluster: {server: %q, certificate-authority-data: %s}
users:
- name: kubelet
  user: {client-certificate-data: %s, client-key-data: %s}
contexts:
- name: e2e
  context: {cluster: e2e, user: kubelet}
current-context: e2e
`, c.Host, b64(c.PKI.CACert), b64(c.PKI.AdminCert), b64(c.PKI.AdminKey))
	kubelet, err := n.kubeletConfig()
	if err != nil {
		return err
	}
	for name, data := range map[string]string{
		"containerd.toml": containerd, "cni/10-sidecarkit.conflist": cni, "kubeconfig": kubeconfig, "kubelet.yaml": kubelet,
	} {
		if err := os.WriteFile(filepath.Join(d, name), []byte(data), 0o600); err != nil {
			return err
		}
	}
	return nil
}

// kubeletConfig is the kubelet's configuration file for n.Minor and
// n.opts.FeatureGates; the pod log directory stays n.PodLogs (a kubelet
// replaced in place keeps its predecessor's).
func (n *Node) kubeletConfig() (string, error) {
	ports, err := freePorts(2)
	if err != nil {
		return "", err
	}
	var gates strings.Builder
	if len(n.opts.FeatureGates) > 0 {
		names := make([]string, 0, len(n.opts.FeatureGates))
		for k := range n.opts.FeatureGates {
			names = append(names, k)
		}
		sort.Strings(names)
		gates.WriteString("featureGates:\n")
		for _, k := range names {
			fmt.Fprintf(&gates, "  %s: %t\n", k, n.opts.FeatureGates[k])
		}
	}
	newer := ""
	if n.Minor >= 31 {
		newer = fmt.Sprintf("failCgroupV1: false\npodLogsDir: %q\n", n.PodLogs)
	}
	kubelet := fmt.Sprintf(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
%[1]scgroupDriver: cgroupfs
cgroupRoot: %[2]q
containerRuntimeEndpoint: unix://%[3]s
authentication:
  anonymous: {enabled: true}
  webhook: {enabled: false}
authorization: {mode: AlwaysAllow}
address: 127.0.0.1
port: %[4]d
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: %[5]d
failSwapOn: false
resolvConf: ""
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: "100Mi", nodefs.available: "1%%", imagefs.available: "1%%"}
nodeStatusUpdateFrequency: 2s
%[6]s`, newer, n.cgroupRoot, n.sock, ports[0], ports[1], gates.String())
	return kubelet, nil
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func freePorts(k int) ([]int, error) {
	var ports []int
	for i := 0; i < k; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// cgroupHierarchies returns the mounted cgroup v1 hierarchies.
func cgroupHierarchies() []string {
	var out []string
	f, err := os.Open("/proc/self/mounts")
	if err != nil {
		return nil
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) >= 3 && fields[2] == "cgroup" {
			out = append(out, fields[1])
		}
	}
	return out
}

func (n *Node) makeCgroupRoot() error {
	for _, h := range cgroupHierarchies() {
		if err := os.MkdirAll(filepath.Join(h, n.cgroupRoot), 0o755); err != nil {
			return fmt.Errorf("create cgroup %s in %s: %w", n.cgroupRoot, h, err)
		}
	}
	return nil
}

func listDir(dir string) map[string]bool {
	m := map[string]bool{}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		m[e.Name()] = true
	}
	return m
}

// Stop deletes the node's Pods, stops the kubelet, kills what containers
// are left, stops containerd, unmounts what the node mounted, removes its
// bridge, cgroups and directory, and deletes the Node object.
func (n *Node) Stop(ctx context.Context) error {
	var errs []error
	if n.kubelet != nil && !n.kubelet.exited() {
		errs = append(errs, n.drain(ctx))
	}
	if err := n.kubelet.stop(10 * time.Second); err != nil {
		errs = append(errs, err)
	}
	if n.containerd != nil && !n.containerd.exited() {
		if out, err := n.ctr(ctx, "tasks", "ls", "-q"); err == nil {
			for _, id := range strings.Fields(string(out)) {
				n.ctr(ctx, "tasks", "kill", "-s", "SIGKILL", id)
			}
			time.Sleep(500 * time.Millisecond)
			for _, id := range strings.Fields(string(out)) {
				n.ctr(ctx, "tasks", "delete", "-f", id)
			}
		}
	}
	if err := n.containerd.stop(10 * time.Second); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, n.unmount())
	if n.host != nil {
		errs = append(errs, n.host.restore())
	}
	if out, err := exec.Command("ip", "link", "del", n.bridge).CombinedOutput(); err != nil && !strings.Contains(string(out), "Cannot find device") {
		errs = append(errs, fmt.Errorf("ip link del %s: %v: %s", n.bridge, err, out))
	}
	for _, h := range cgroupHierarchies() {
		errs = append(errs, rmdirTree(filepath.Join(h, n.cgroupRoot)))
	}
	if n.PodLogs == "/var/log/pods" {
		// The old kubelet's pod logs live in /var/log/pods: remove those
		// that appeared while it ran.
		for name := range listDir(n.PodLogs) {
			if !n.oldLogs[name] {
				os.RemoveAll(filepath.Join(n.PodLogs, name))
			}
		}
	}
	if n.opts.LogDir != "" {
		os.MkdirAll(n.opts.LogDir, 0o755)
		for _, f := range []string{"kubelet.log", "containerd.log"} {
			if data, err := os.ReadFile(filepath.Join(n.Dir, f)); err == nil {
				os.WriteFile(filepath.Join(n.opts.LogDir, n.Name+"-"+f), data, 0o644)
			}
		}
	}
	if err := os.RemoveAll(n.Dir); err != nil {
		errs = append(errs, err)
	}
	if err := n.client.CoreV1().Nodes().Delete(ctx, n.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// drain deletes the node's Pods and waits until the kubelet has stopped
// their containers and sandboxes (so that it tears down their networks).
func (n *Node) drain(ctx context.Context) error {
	pods, err := n.client.CoreV1().Pods("").List(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName=" + n.Name})
	if err != nil {
		return err
	}
	zero := int64(0)
	for _, p := range pods.Items {
		n.client.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero})
	}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		out, err := n.ctr(ctx, "tasks", "ls", "-q")
		if err != nil {
			return fmt.Errorf("ctr tasks ls: %w: %s", err, out)
		}
		if strings.TrimSpace(string(out)) == "" {
			return nil
		}
		time.Sleep(500 * time.Millisecond)
	}
	return fmt.Errorf("node %s: containers still running 60s after deleting its Pods", n.Name)
}

// unmount unmounts everything mounted under the node's directory and the
// network namespaces that appeared while it ran, deepest first.
func (n *Node) unmount() error {
	data, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		return err
	}
	var points []string
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		p := f[1]
		if strings.HasPrefix(p, n.Dir+"/") || (strings.HasPrefix(p, "/run/netns/cni-") && !n.netns[filepath.Base(p)]) {
			points = append(points, p)
		}
	}
	sort.Slice(points, func(i, j int) bool { return len(points[i]) > len(points[j]) })
	var errs []error
	for _, p := range points {
		if out, err := exec.Command("umount", p).CombinedOutput(); err != nil {
			errs = append(errs, fmt.Errorf("umount %s: %v: %s", p, err, out))
		}
	}
	for name := range listDir("/run/netns") {
		if strings.HasPrefix(name, "cni-") && !n.netns[name] {
			os.Remove(filepath.Join("/run/netns", name))
		}
	}
	return errors.Join(errs...)
}

// rmdirTree removes an (empty of tasks) cgroup directory tree bottom-up.
func rmdirTree(dir string) error {
	var dirs []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	var last error
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := os.Remove(dirs[i]); err != nil && !errors.Is(err, os.ErrNotExist) {
			last = err
		}
	}
	return last
}

// KubeletLog returns the last n lines of the kubelet's log.
func (n *Node) KubeletLog(lines int) string { return tail(filepath.Join(n.Dir, "kubelet.log"), lines) }

// ContainerLog returns the log of every instance of a container of a Pod
// (0.log, 1.log, ... in order), each line prefixed with "[N.log hh:mm:ss.mmm] "
// instead of the CRI prefix.
func (n *Node) ContainerLog(pod *corev1.Pod, container string) (string, error) {
	dir := filepath.Join(n.PodLogs, fmt.Sprintf("%s_%s_%s", pod.Namespace, pod.Name, pod.UID), container)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", err
	}
	var names []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".log") {
			names = append(names, e.Name())
		}
	}
	sort.Slice(names, func(i, j int) bool {
		a, _ := strconv.Atoi(strings.TrimSuffix(names[i], ".log"))
		b, _ := strconv.Atoi(strings.TrimSuffix(names[j], ".log"))
		return a < b
	})
	var b strings.Builder
	for _, name := range names {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return "", err
		}
		for _, line := range strings.Split(strings.TrimRight(string(data), "\n"), "\n") {
			// CRI log format: <RFC3339Nano time> <stream> <P|F> <text>.
			at := ""
			if f := strings.SplitN(line, " ", 4); len(f) == 4 {
				if t, err := time.Parse(time.RFC3339Nano, f[0]); err == nil {
					at = " " + t.UTC().Format("15:04:05.000")
				}
				line = f[3]
			}
			fmt.Fprintf(&b, "[%s%s] %s\n", name, at, line)
		}
	}
	return b.String(), nil
}

// KillSandbox kills the running sandbox (pause) task of a Pod with
// SIGKILL, through the node's containerd, as if the sandbox had died: the
// kubelet then recreates the sandbox and reruns the init containers.
func (n *Node) KillSandbox(ctx context.Context, podUID string) error {
	out, err := n.ctr(ctx, "containers", "ls", "-q",
		fmt.Sprintf(`labels."io.kubernetes.pod.uid"==%s,labels."io.cri-containerd.kind"==sandbox`, podUID))
	if err != nil {
		return fmt.Errorf("ctr containers ls: %w: %s", err, out)
	}
	sandboxes := map[string]bool{}
	for _, id := range strings.Fields(string(out)) {
		sandboxes[id] = true
	}
	tasks, err := n.ctr(ctx, "tasks", "ls")
	if err != nil {
		return fmt.Errorf("ctr tasks ls: %w: %s", err, tasks)
	}
	for _, line := range strings.Split(string(tasks), "\n") {
		f := strings.Fields(line)
		if len(f) == 3 && sandboxes[f[0]] && f[2] == "RUNNING" {
			if out, err := n.ctr(ctx, "tasks", "kill", "-s", "SIGKILL", f[0]); err != nil {
				return fmt.Errorf("ctr tasks kill %s: %w: %s", f[0], err, out)
			}
			return nil
		}
	}
	return fmt.Errorf("pod %s: no running sandbox task (sandboxes %v)", podUID, sandboxes)
}
