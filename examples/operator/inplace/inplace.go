// Package inplace upgrades the sidecar image of running Pods without
// restarting them: an image-only change of a native sidecar (an init
// container's image may change on a live Pod) or of a legacy sidecar (a
// regular container's image may too), one Pod at a time or up to
// MaxUnavailable at once, at most one patch per Interval, each Pod checked
// for readiness before it counts as done, and the first failure halting
// the whole rollout.
//
// What may change on a live Pod is the API server's rule
// (ValidatePodUpdate in
// https://github.com/kubernetes/kubernetes/blob/v1.37.2/pkg/apis/core/validation/validation.go:
// "pod updates may not change fields other than spec.containers[*].image,
// spec.initContainers[*].image, ..."). The kubelet restarts the one
// container whose image changed; a restartable init container (native
// sidecar) is restarted in place by kubelets that support native sidecars.
// On a kubelet without native sidecars an init container image change
// restarts the whole Pod (https://kubernetes.io/docs/concepts/workloads/pods/init-containers/#detailed-behavior),
// which is why the app containers' restart counts are checked after each
// Pod: a change that restarted them halts the rollout.
package inplace

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/sidecarkit/sidecarkit/compat"
	"github.com/sidecarkit/sidecarkit/examples/operator/metrics"
	"github.com/sidecarkit/sidecarkit/sidecar"
)

// Event reasons.
const (
	ReasonUpgraded = "SidecarUpgradedInPlace"
	ReasonFailed   = "SidecarUpgradeFailed"
)

// Defaults of the Upgrader's knobs.
const (
	DefaultInterval     = 10 * time.Second
	DefaultReadyTimeout = 2 * time.Minute
)

// Upgrader upgrades the sidecar of running Pods in place. Run it with
// Run (the binary adds it to the manager as a leader-only Runnable), or
// call Step on a clock of your own.
type Upgrader struct {
	// Client reads Pods (the manager's cache) and patches them.
	Client client.Client
	// Spec is the sidecar as it is now.
	Spec sidecar.Spec
	// MaxUnavailable is how many Pods may be upgrading (patched, their new
	// sidecar not ready yet) at once; below 1 means 1.
	MaxUnavailable int
	// Interval is the least time between two patches and the period of
	// Run; zero means DefaultInterval.
	Interval time.Duration
	// ReadyTimeout is how long a patched Pod has to become ready with the
	// new sidecar; zero means DefaultReadyTimeout.
	ReadyTimeout time.Duration
	// Recorder, when set, records Events on the Pods.
	Recorder events.EventRecorder
	// Metrics, when set, counts the upgrades.
	Metrics *metrics.Metrics
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	mu       sync.Mutex
	inflight map[types.UID]*flight
	halted   string
}

// flight is a Pod patched and not yet ready.
type flight struct {
	key         types.NamespacedName
	mode        sidecar.Mode
	container   string
	from, to    string
	containerID string           // of the sidecar before the patch
	restarts    map[string]int32 // app containers' restart counts before
	patched     time.Time
}

// Result is what happened to one Pod, for callers and tests.
type Result struct {
	Pod       types.NamespacedName
	From, To  string
	Seconds   float64
	Succeeded bool
	Reason    string
}

func (u *Upgrader) now() time.Time {
	if u.Now != nil {
		return u.Now()
	}
	return time.Now()
}

// Halted returns why the rollout halted, or "".
func (u *Upgrader) Halted() string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.halted
}

// Run calls Step every Interval until ctx ends.
func (u *Upgrader) Run(ctx context.Context) error {
	iv := u.Interval
	if iv <= 0 {
		iv = DefaultInterval
	}
	t := time.NewTicker(iv)
	defer t.Stop()
	for {
		if _, err := u.Step(ctx); err != nil && ctx.Err() == nil {
			log.FromContext(ctx).Error(err, "in-place sidecar upgrade")
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Step checks the Pods in flight (ready with the new sidecar: done; failed
// or not ready within ReadyTimeout: the rollout halts), then, unless the
// rollout halted or MaxUnavailable Pods are in flight, patches the next
// eligible Pod (by namespace and name). It returns the Pods that finished.
func (u *Upgrader) Step(ctx context.Context) ([]Result, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.inflight == nil {
		u.inflight = map[types.UID]*flight{}
	}
	if u.halted != "" {
		return nil, nil
	}
	var done []Result
	uids := make([]string, 0, len(u.inflight))
	for uid := range u.inflight {
		uids = append(uids, string(uid))
	}
	sort.Strings(uids)
	for _, id := range uids {
		f := u.inflight[types.UID(id)]
		var pod corev1.Pod
		if err := u.Client.Get(ctx, f.key, &pod); err != nil {
			if apierrors.IsNotFound(err) {
				delete(u.inflight, types.UID(id)) // deleted meanwhile: not ours to judge
				continue
			}
			return done, err
		}
		r, finished := u.check(&pod, f)
		if !finished {
			continue
		}
		delete(u.inflight, types.UID(id))
		done = append(done, r)
		if r.Succeeded {
			u.Metrics.Upgrade(f.mode.String(), metrics.Upgraded)
			u.event(&pod, corev1.EventTypeNormal, ReasonUpgraded, "Upgrade", "sidecar %q %s → %s in place, ready after %.1fs, app containers not restarted", f.container, f.from, f.to, r.Seconds)
			continue
		}
		u.Metrics.Upgrade(f.mode.String(), metrics.UpgradeFailed)
		u.halted = fmt.Sprintf("Pod %s: %s", f.key, r.Reason)
		u.event(&pod, corev1.EventTypeWarning, ReasonFailed, "Upgrade", "sidecar %q %s → %s: %s; the in-place rollout halts", f.container, f.from, f.to, r.Reason)
		log.FromContext(ctx).Info("in-place sidecar rollout halted", "reason", u.halted)
		return done, nil
	}
	max := u.MaxUnavailable
	if max < 1 {
		max = 1
	}
	if len(u.inflight) >= max {
		return done, nil
	}
	var pods corev1.PodList
	if err := u.Client.List(ctx, &pods); err != nil {
		return done, err
	}
	sort.Slice(pods.Items, func(i, j int) bool {
		a, b := &pods.Items[i], &pods.Items[j]
		return a.Namespace+"/"+a.Name < b.Namespace+"/"+b.Name
	})
	for i := range pods.Items {
		pod := &pods.Items[i]
		if _, busy := u.inflight[pod.UID]; busy || !running(pod) {
			continue
		}
		p, err := Plan(pod, u.Spec)
		if err != nil || p == nil {
			continue // up to date, not ours, or not an image-only change
		}
		if err := u.Client.Patch(ctx, pod, client.RawPatch(types.JSONPatchType, p.Body)); err != nil {
			if apierrors.IsConflict(err) || apierrors.IsInvalid(err) || apierrors.IsNotFound(err) {
				continue // changed since read (a failed test): next round
			}
			return done, fmt.Errorf("patch Pod %s/%s: %w", pod.Namespace, pod.Name, err)
		}
		u.inflight[pod.UID] = &flight{key: types.NamespacedName{Namespace: pod.Namespace, Name: pod.Name}, mode: p.Mode,
			container: p.Container, from: p.From, to: p.To, containerID: p.ContainerID, restarts: p.AppRestarts, patched: u.now()}
		log.FromContext(ctx).Info("sidecar image patched in place", "pod", pod.Namespace+"/"+pod.Name, "from", p.From, "to", p.To)
		break // one patch per step: the rate limit
	}
	return done, nil
}

// failing are the waiting reasons after which a container will not start
// without a change.
var failing = map[string]bool{
	"ErrImagePull": true, "ImagePullBackOff": true, "InvalidImageName": true,
	"CrashLoopBackOff": true, "CreateContainerError": true, "CreateContainerConfigError": true, "RunContainerError": true,
}

// check reports whether a Pod in flight finished, and how.
func (u *Upgrader) check(pod *corev1.Pod, f *flight) (Result, bool) {
	r := Result{Pod: f.key, From: f.from, To: f.to, Seconds: u.now().Sub(f.patched).Seconds()}
	timeout := u.ReadyTimeout
	if timeout <= 0 {
		timeout = DefaultReadyTimeout
	}
	for _, s := range pod.Status.ContainerStatuses {
		if before, ok := f.restarts[s.Name]; ok && s.RestartCount != before {
			r.Reason = fmt.Sprintf("app container %q restarted (%d → %d)", s.Name, before, s.RestartCount)
			return r, true
		}
	}
	if pod.DeletionTimestamp != nil || pod.Status.Phase == corev1.PodFailed || pod.Status.Phase == corev1.PodSucceeded {
		r.Reason = "the Pod stopped running"
		return r, true
	}
	st := status(pod, f.mode, f.container)
	if st != nil && st.State.Waiting != nil && failing[st.State.Waiting.Reason] {
		r.Reason = fmt.Sprintf("sidecar %s: %s", st.State.Waiting.Reason, st.State.Waiting.Message)
		return r, true
	}
	if st != nil && st.ContainerID != "" && st.ContainerID != f.containerID && st.State.Running != nil && st.Ready && podReady(pod) {
		r.Succeeded = true
		return r, true
	}
	if u.now().Sub(f.patched) > timeout {
		r.Reason = fmt.Sprintf("not ready with the new sidecar within %v", timeout)
		return r, true
	}
	return r, false
}

func running(pod *corev1.Pod) bool {
	return pod.DeletionTimestamp == nil && pod.Status.Phase == corev1.PodRunning && podReady(pod)
}

func podReady(pod *corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// status returns the status of the sidecar container.
func status(pod *corev1.Pod, mode sidecar.Mode, name string) *corev1.ContainerStatus {
	l := pod.Status.ContainerStatuses
	if mode == sidecar.Native || mode == sidecar.Pinned {
		l = pod.Status.InitContainerStatuses
	}
	for i := range l {
		if l[i].Name == name {
			return &l[i]
		}
	}
	return nil
}

// Upgrade is what Plan found for one Pod.
type Upgrade struct {
	// Body is the RFC 6902 patch: a test of the resourceVersion and of the
	// container's name at its index, a replace of its image, and the
	// injection record the new spec writes.
	Body []byte
	// Mode is the record's mode, Native or Legacy.
	Mode sidecar.Mode
	// Container is the sidecar's name; From and To its images.
	Container, From, To string
	// ContainerID is the sidecar container's ID before the patch.
	ContainerID string
	// AppRestarts are the other containers' restart counts before it.
	AppRestarts map[string]int32
}

// Plan returns the in-place upgrade of pod's sidecar to spec, or nil when
// there is none to make: the Pod carries no record of the sidecar, it is
// of another mode than native, pinned or legacy, its image is already spec's, or
// spec differs from what was injected in more than the image (then only a
// new Pod can have it). The image-only test: spec with the Pod's image
// must be exactly what the Pod's record says was injected
// (sidecar.Inject finds nothing to do).
func Plan(pod *corev1.Pod, spec sidecar.Spec) (*Upgrade, error) {
	name := spec.Container.Name
	rec, has, err := sidecar.ReadRecord(&pod.ObjectMeta, name)
	if err != nil || !has {
		return nil, err
	}
	list, path := pod.Spec.Containers, "containers"
	switch rec.Mode {
	case sidecar.Native, sidecar.Pinned: // pinned: a native sidecar with a node requirement
		list, path = pod.Spec.InitContainers, "initContainers"
	case sidecar.Legacy:
	default:
		return nil, nil // the universal pair: two twins, left to a new Pod
	}
	idx := -1
	for i := range list {
		if list[i].Name == name {
			idx = i
		}
	}
	if idx < 0 || list[idx].Image == spec.Container.Image {
		return nil, nil
	}
	old := spec
	oldC := spec.Container
	oldC.Image = list[idx].Image
	old.Container = oldC
	opts := sidecar.Options{Mode: rec.Mode}
	meta, podSpec := pod.ObjectMeta.DeepCopy(), pod.Spec.DeepCopy()
	same, err := sidecar.Inject(meta, podSpec, old, compat.Capability{}, opts)
	if err != nil || !same.Mutation.Empty() {
		return nil, err // more than the image changed
	}
	res, err := sidecar.Inject(meta, podSpec, spec, compat.Capability{}, opts)
	if err != nil {
		return nil, err
	}
	if err := res.Mutation.Apply(meta, podSpec); err != nil {
		return nil, err
	}
	key := sidecar.Annotation(name)
	ops := []map[string]interface{}{
		{"op": "test", "path": "/metadata/resourceVersion", "value": pod.ResourceVersion},
		{"op": "test", "path": fmt.Sprintf("/spec/%s/%d/name", path, idx), "value": name},
		{"op": "replace", "path": fmt.Sprintf("/spec/%s/%d/image", path, idx), "value": spec.Container.Image},
		{"op": "replace", "path": "/metadata/annotations/" + strings.NewReplacer("~", "~0", "/", "~1").Replace(key), "value": meta.Annotations[key]},
	}
	body, err := json.Marshal(ops)
	if err != nil {
		return nil, err
	}
	u := &Upgrade{Body: body, Mode: rec.Mode, Container: name, From: list[idx].Image, To: spec.Container.Image, AppRestarts: map[string]int32{}}
	if st := status(pod, rec.Mode, name); st != nil {
		u.ContainerID = st.ContainerID
	}
	for _, s := range pod.Status.ContainerStatuses {
		if s.Name != name {
			u.AppRestarts[s.Name] = s.RestartCount
		}
	}
	return u, nil
}

func (u *Upgrader) event(obj client.Object, typ, reason, action, note string, args ...interface{}) {
	if u.Recorder != nil {
		u.Recorder.Eventf(obj, nil, typ, reason, action, note, args...)
	}
}
