package sidecar

import (
	"regexp"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// The API server's defaulting of the elements the library injects (a
// container, a volume, an env var), as of Kubernetes 1.37, for the fields
// of the compiled k8s.io/api types. docs/defaults.md lists each default
// with its source (pkg/apis/core/v1/defaults.go and
// zz_generated.defaults.go in k8s.io/kubernetes). The library uses them
// only to recognise an element it injected after the API server stored
// it, and to update such an element without stripping its defaults: it
// never adds defaults to what it inserts.

// podDefaults is what a container's defaults depend on beyond the
// container. The API server defaults the containers of a Pod further than
// those of a pod template (requests from limits, hostPorts under
// hostNetwork); the library applies the Pod's defaults to both sides of a
// comparison, which is symmetric, and keeps them in an update only where
// the element had them, so it need not know which it was given.
type podDefaults struct {
	hostNetwork bool
}

// Default values, from k8s.io/api/core/v1 and pkg/apis/core/v1/defaults.go.
const (
	defaultProbeTimeout          = 1
	defaultProbePeriod           = 10
	defaultProbeSuccessThreshold = 1
	defaultProbeFailureThreshold = 3
	defaultFieldRefAPIVersion    = "v1"
	defaultHTTPGetPath           = "/"
	defaultTokenExpiration       = int64(3600)
)

// defaultContainer applies the API server's container defaults to c in
// place, except imagePullPolicy (see pullPolicyDefault): c must be a copy
// the caller owns.
func defaultContainer(c *corev1.Container, d podDefaults) {
	if c.TerminationMessagePath == "" {
		c.TerminationMessagePath = corev1.TerminationMessagePathDefault
	}
	if c.TerminationMessagePolicy == "" {
		c.TerminationMessagePolicy = corev1.TerminationMessageReadFile
	}
	for j := range c.Ports {
		p := &c.Ports[j]
		if p.Protocol == "" {
			p.Protocol = corev1.ProtocolTCP
		}
		if d.hostNetwork && p.HostPort == 0 {
			p.HostPort = p.ContainerPort
		}
	}
	for j := range c.Env {
		defaultEnv(&c.Env[j])
	}
	defaultResources(&c.Resources)
	for _, p := range []*corev1.Probe{c.LivenessProbe, c.ReadinessProbe, c.StartupProbe} {
		if p == nil {
			continue
		}
		if p.TimeoutSeconds == 0 {
			p.TimeoutSeconds = defaultProbeTimeout
		}
		if p.PeriodSeconds == 0 {
			p.PeriodSeconds = defaultProbePeriod
		}
		if p.SuccessThreshold == 0 {
			p.SuccessThreshold = defaultProbeSuccessThreshold
		}
		if p.FailureThreshold == 0 {
			p.FailureThreshold = defaultProbeFailureThreshold
		}
		defaultHTTPGet(p.HTTPGet)
		if p.GRPC != nil && p.GRPC.Service == nil {
			empty := ""
			p.GRPC.Service = &empty
		}
	}
	if l := c.Lifecycle; l != nil {
		if l.PostStart != nil {
			defaultHTTPGet(l.PostStart.HTTPGet)
		}
		if l.PreStop != nil {
			defaultHTTPGet(l.PreStop.HTTPGet)
		}
	}
}

// defaultResources rounds quantities up to milli-units, as the API server
// stores them, and defaults requests to limits (as it does for a Pod).
func defaultResources(r *corev1.ResourceRequirements) {
	for _, l := range []corev1.ResourceList{r.Limits, r.Requests} {
		for k, q := range l {
			q.RoundUp(-3)
			l[k] = q
		}
	}
	if len(r.Limits) == 0 {
		return
	}
	for k, q := range r.Limits {
		if _, ok := r.Requests[k]; !ok {
			if r.Requests == nil {
				r.Requests = make(corev1.ResourceList, len(r.Limits))
			}
			r.Requests[k] = q.DeepCopy()
		}
	}
}

func defaultHTTPGet(h *corev1.HTTPGetAction) {
	if h == nil {
		return
	}
	if h.Path == "" {
		h.Path = defaultHTTPGetPath
	}
	if h.Scheme == "" {
		h.Scheme = corev1.URISchemeHTTP
	}
}

// defaultEnv applies the API server's env var defaults to e in place.
func defaultEnv(e *corev1.EnvVar) {
	if e.ValueFrom != nil && e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.APIVersion == "" {
		e.ValueFrom.FieldRef.APIVersion = defaultFieldRefAPIVersion
	}
}

// defaultVolume applies the API server's volume defaults to v in place.
func defaultVolume(v *corev1.Volume) {
	s := &v.VolumeSource
	if *s == (corev1.VolumeSource{}) {
		s.EmptyDir = &corev1.EmptyDirVolumeSource{}
	}
	mode := func(m **int32) {
		if *m == nil {
			def := int32(0o644) // Secret, ConfigMap, DownwardAPI and Projected alike
			*m = &def
		}
	}
	items := func(l []corev1.DownwardAPIVolumeFile) {
		for i := range l {
			if f := l[i].FieldRef; f != nil && f.APIVersion == "" {
				f.APIVersion = defaultFieldRefAPIVersion
			}
		}
	}
	if s.HostPath != nil && s.HostPath.Type == nil {
		unset := corev1.HostPathUnset
		s.HostPath.Type = &unset
	}
	if s.Secret != nil {
		mode(&s.Secret.DefaultMode)
	}
	if s.ConfigMap != nil {
		mode(&s.ConfigMap.DefaultMode)
	}
	if s.DownwardAPI != nil {
		mode(&s.DownwardAPI.DefaultMode)
		items(s.DownwardAPI.Items)
	}
	if s.Projected != nil {
		mode(&s.Projected.DefaultMode)
		for i := range s.Projected.Sources {
			src := &s.Projected.Sources[i]
			if src.DownwardAPI != nil {
				items(src.DownwardAPI.Items)
			}
			if t := src.ServiceAccountToken; t != nil && t.ExpirationSeconds == nil {
				exp := defaultTokenExpiration
				t.ExpirationSeconds = &exp
			}
		}
	}
	if s.ISCSI != nil && s.ISCSI.ISCSIInterface == "" {
		s.ISCSI.ISCSIInterface = "default"
	}
	if r := s.RBD; r != nil {
		if r.RBDPool == "" {
			r.RBDPool = "rbd"
		}
		if r.RadosUser == "" {
			r.RadosUser = "admin"
		}
		if r.Keyring == "" {
			r.Keyring = "/etc/ceph/keyring"
		}
	}
	if a := s.AzureDisk; a != nil {
		if a.CachingMode == nil {
			m := corev1.AzureDataDiskCachingReadWrite
			a.CachingMode = &m
		}
		if a.FSType == nil {
			fs := "ext4"
			a.FSType = &fs
		}
		if a.ReadOnly == nil {
			ro := false
			a.ReadOnly = &ro
		}
		if a.Kind == nil {
			k := corev1.AzureSharedBlobDisk
			a.Kind = &k
		}
	}
	if sc := s.ScaleIO; sc != nil {
		if sc.StorageMode == "" {
			sc.StorageMode = "ThinProvisioned"
		}
		if sc.FSType == "" {
			sc.FSType = "xfs"
		}
	}
	if e := s.Ephemeral; e != nil && e.VolumeClaimTemplate != nil {
		spec := &e.VolumeClaimTemplate.Spec
		if spec.VolumeMode == nil {
			fs := corev1.PersistentVolumeFilesystem
			spec.VolumeMode = &fs
		}
		defaultResourceList(spec.Resources.Limits)
		defaultResourceList(spec.Resources.Requests)
	}
}

func defaultResourceList(l corev1.ResourceList) {
	for k, q := range l {
		q.RoundUp(-3)
		l[k] = q
	}
}

// pullPolicyDefault is the imagePullPolicy the API server gives a
// container of image that sets none: Always for the tag "latest" (also
// implied by a reference with neither tag nor digest), IfNotPresent
// otherwise, and IfNotPresent for a reference it cannot parse. See
// SetDefaults_Container and pkg/util/parsers.ParseImageName in
// k8s.io/kubernetes; the reference grammar is that of
// github.com/distribution/reference.
func pullPolicyDefault(image string) corev1.PullPolicy {
	if imageTag(image) == "latest" {
		return corev1.PullAlways
	}
	return corev1.PullIfNotPresent
}

// The reference grammar of github.com/distribution/reference (regexp.go).
var (
	referenceRE  = regexp.MustCompile(`^((?:(?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*|\[(?:[a-fA-F0-9:]+)\])(?::[0-9]+)?/)?[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*)*)(?::([\w][\w.-]{0,127}))?(?:@([A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][[:xdigit:]]{32,}))?$`)
	identifierRE = regexp.MustCompile(`^[a-f0-9]{64}$`)
)

// imageTag returns the tag ParseImageName gives image: its tag, "latest"
// when it has neither tag nor digest, and "" when it has only a digest or
// does not parse.
func imageTag(image string) string {
	if len(image) > 4096 || identifierRE.MatchString(image) {
		return ""
	}
	// As ParseNormalizedNamed: a name without a domain is Docker Hub's,
	// and the repository part must be lowercase.
	domain, rest := "docker.io", image
	if d, r, ok := strings.Cut(image, "/"); ok && (d == "localhost" || strings.ContainsAny(d, ".:") || strings.ToLower(d) != d) {
		domain, rest = d, r
	}
	remote := rest
	if i := strings.IndexByte(rest, ':'); i >= 0 {
		remote = rest[:i]
	}
	if strings.ToLower(remote) != remote {
		return ""
	}
	m := referenceRE.FindStringSubmatch(domain + "/" + rest)
	if m == nil {
		return ""
	}
	switch {
	case m[2] != "":
		return m[2]
	case m[3] != "":
		return ""
	}
	return "latest"
}
