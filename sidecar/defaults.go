package sidecar

import (
	"reflect"
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

// defaultHTTPGet applies the API server's httpGet defaults to h in place,
// except the protocol (see newerFields), whose default it removes: the API
// server sets it only with an alpha gate and only in a Pod, and adding it
// would change the digest of every container with an httpGet handler.
// containerTarget keeps it where the pod's container has it.
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
	if p, ok := httpProtocol(h); ok && p == defaultHTTPProtocol {
		setHTTPProtocol(h, "")
	}
}

// defaultEnv applies the API server's env var defaults to e in place.
func defaultEnv(e *corev1.EnvVar) {
	if e.ValueFrom != nil && e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.APIVersion == "" {
		e.ValueFrom.FieldRef.APIVersion = defaultFieldRefAPIVersion
	}
	if opt, ok := fileKeyOptional(e); ok && opt.IsNil() {
		f := false
		opt.Set(reflect.ValueOf(&f).Convert(opt.Type()))
	}
}

// Fields newer than k8s.io/api v0.28, which the library is built against
// (its go.mod), that the API server defaults. A program that builds the
// library against a newer k8s.io/api (any current client-go requires one)
// decodes them into the elements the library compares, so the library
// must see through their defaults too:
//
//   - volumes[].image.pullPolicy (k8s.io/api v0.31; the ImageVolume gate,
//     on by default since Kubernetes 1.35): from the reference's tag, as a
//     container's imagePullPolicy (SetDefaults_Volume in
//     pkg/apis/core/v1/defaults.go).
//   - env[].valueFrom.fileKeyRef.optional (v0.34; EnvFiles, on by default
//     since 1.35): false (+default=false in k8s.io/api/core/v1 types.go,
//     applied by zz_generated.defaults.go).
//   - httpGet.protocol of probes and lifecycle hooks (v0.37;
//     H2CContainerProbe, alpha in 1.37): HTTP1, in a Pod's containers only
//     (SetDefaults_Pod).
//
// They are reached by reflection, by field indices looked up once, so that
// the same code compiles against v0.28, where they do not exist and these
// defaults do nothing (decoding drops the fields on both sides of every
// comparison, and patches leave what they do not decode alone).
type newerFieldIndices struct {
	volumeImage, imageReference, imagePullPolicy []int
	fileKeyRef, fileKeyOptional                  []int
	httpProtocol                                 []int
}

// defaultHTTPProtocol is httpGet.protocol's default (HTTPProtocolHTTP1 in
// k8s.io/api v0.37).
const defaultHTTPProtocol = "HTTP1"

var newerFields = lookupNewerFields()

func lookupNewerFields() newerFieldIndices {
	var n newerFieldIndices
	if idx, elem := fieldIndex(reflect.TypeOf(corev1.VolumeSource{}), "Image", reflect.Ptr, reflect.Struct); idx != nil {
		ref, _ := fieldIndex(elem, "Reference", reflect.String, 0)
		pp, _ := fieldIndex(elem, "PullPolicy", reflect.String, 0)
		if ref != nil && pp != nil {
			n.volumeImage, n.imageReference, n.imagePullPolicy = idx, ref, pp
		}
	}
	if idx, elem := fieldIndex(reflect.TypeOf(corev1.EnvVarSource{}), "FileKeyRef", reflect.Ptr, reflect.Struct); idx != nil {
		if opt, _ := fieldIndex(elem, "Optional", reflect.Ptr, reflect.Bool); opt != nil {
			n.fileKeyRef, n.fileKeyOptional = idx, opt
		}
	}
	n.httpProtocol, _ = fieldIndex(reflect.TypeOf(corev1.HTTPGetAction{}), "Protocol", reflect.Ptr, reflect.String)
	return n
}

// fieldIndex returns the index of the field name of the struct type t when
// it is of kind (and, for a pointer, points to elem), and the type it
// points to; nil when t has no such field.
func fieldIndex(t reflect.Type, name string, kind, elem reflect.Kind) ([]int, reflect.Type) {
	f, ok := t.FieldByName(name)
	if !ok || f.Type.Kind() != kind {
		return nil, nil
	}
	if kind != reflect.Ptr {
		return f.Index, f.Type
	}
	if f.Type.Elem().Kind() != elem {
		return nil, nil
	}
	return f.Index, f.Type.Elem()
}

// httpProtocol returns h's protocol ("" when unset) and whether h has the
// field at all.
func httpProtocol(h *corev1.HTTPGetAction) (string, bool) {
	if newerFields.httpProtocol == nil || h == nil {
		return "", false
	}
	p := reflect.ValueOf(h).Elem().FieldByIndex(newerFields.httpProtocol)
	if p.IsNil() {
		return "", true
	}
	return p.Elem().String(), true
}

// setHTTPProtocol sets h's protocol to p, or unsets it when p is "".
func setHTTPProtocol(h *corev1.HTTPGetAction, p string) {
	if newerFields.httpProtocol == nil || h == nil {
		return
	}
	f := reflect.ValueOf(h).Elem().FieldByIndex(newerFields.httpProtocol)
	if p == "" {
		f.Set(reflect.Zero(f.Type()))
		return
	}
	v := reflect.New(f.Type().Elem())
	v.Elem().SetString(p)
	f.Set(v)
}

// fileKeyOptional returns the settable field e.valueFrom.fileKeyRef.optional
// (a pointer) and whether e has a fileKeyRef.
func fileKeyOptional(e *corev1.EnvVar) (reflect.Value, bool) {
	if newerFields.fileKeyRef == nil || e == nil || e.ValueFrom == nil {
		return reflect.Value{}, false
	}
	ref := reflect.ValueOf(e.ValueFrom).Elem().FieldByIndex(newerFields.fileKeyRef)
	if ref.IsNil() {
		return reflect.Value{}, false
	}
	return ref.Elem().FieldByIndex(newerFields.fileKeyOptional), true
}

// defaultVolumeImage defaults the pull policy of s's image volume source.
func defaultVolumeImage(s *corev1.VolumeSource) {
	if newerFields.volumeImage == nil {
		return
	}
	img := reflect.ValueOf(s).Elem().FieldByIndex(newerFields.volumeImage)
	if img.IsNil() {
		return
	}
	pp := img.Elem().FieldByIndex(newerFields.imagePullPolicy)
	if pp.String() == "" {
		pp.SetString(string(pullPolicyDefault(img.Elem().FieldByIndex(newerFields.imageReference).String())))
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
	defaultVolumeImage(s)
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
// does not parse (or is longer than 4096 bytes: a bound on the work, no
// sidecar image is that long).
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
	// As Parse: the repository path is at most 255 characters (Docker
	// Hub's one-element names are in "library/"), and a digest is one
	// ParseImageName can verify.
	path := m[1][len(domain)+1:]
	if (domain == "docker.io" || domain == "index.docker.io") && !strings.Contains(path, "/") {
		path = "library/" + path
	}
	if len(path) > 255 || m[3] != "" && !validDigest(m[3]) {
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

// validDigest reports whether d (algorithm:hex) is a digest
// github.com/opencontainers/go-digest accepts with the algorithms
// ParseImageName links in: sha256, sha384 and sha512, in lowercase hex of
// their length.
func validDigest(d string) bool {
	alg, hex, _ := strings.Cut(d, ":")
	n := map[string]int{"sha256": 64, "sha384": 96, "sha512": 128}[alg]
	if n == 0 || len(hex) != n {
		return false
	}
	for i := 0; i < len(hex); i++ {
		if c := hex[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
