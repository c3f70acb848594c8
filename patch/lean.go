package patch

import (
	"encoding"
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utiljson "k8s.io/apimachinery/pkg/util/json"

	"github.com/sidecarkit/sidecarkit/internal/jsonscan"
	"github.com/sidecarkit/sidecarkit/internal/leanpod"
)

func init() {
	leanpod.Decode = func(raw []byte, r *leanpod.Reads) (interface{}, bool) {
		o, ok := decodeLean(raw, r)
		if !ok {
			return nil, false
		}
		return o, true
	}
	leanpod.DecodeAt = func(rd *jsonscan.Reader, r *leanpod.Reads) (interface{}, bool) {
		o, ok := decodeLeanAt(rd, r)
		if !ok {
			return nil, false
		}
		return o, true
	}
}

// errLean stops a lean decode that must give way to DecodeAs.
var errLean = errors.New("patch: lean decode: not for this document")

// decodeLean decodes of a Pod document what the injection reads, as
// DecodeAs(raw, "Pod") decodes it: metadata's name, namespace,
// resourceVersion and annotations (those r names, see decodeAnnotationsAt),
// every pod-level spec field (podSpecFields, resources), the volumes'
// names, of containers the members leanContainerField reads (of the volume
// mounts and env variables that r does not name, only their names and
// mount paths), and in full the ephemeral containers and what r names.
// The rest stays raw, skipped by a structural scan. What it decodes it
// decodes by the same decoder as DecodeAs, member by member, into the
// same types, so what is decoded is what DecodeAs decodes.
//
// It returns false, and the caller decodes with DecodeAs, for anything it
// does not read exactly as DecodeAs does: a decode error (whose message
// DecodeAs words), a repeated key among those it decodes (encoding/json
// merges repeated objects), a kind other than Pod, no spec. The one
// difference it keeps: malformed JSON in a skipped member (say a string
// where a number belongs in a container's image, or an invalid literal
// deep in an unknown field) is checked only for structure, as
// readReview checks the parts of an AdmissionReview it skips, where
// DecodeAs refuses the document. An API server sends objects it has
// decoded and re-encoded, which have neither.
func decodeLean(raw []byte, r *leanpod.Reads) (*Object, bool) {
	rd := jsonscan.NewReader(raw)
	o, ok := decodeLeanAt(rd, r)
	if !ok || rd.End() != nil {
		return nil, false
	}
	o.raw = raw
	return o, true
}

// decodeLeanAt is decodeLean of the document at rd (an AdmissionReview's
// request.object, read in place), which it leaves after the document when
// it returns true, and anywhere in it when it returns false. rd is at the
// document's first byte: the Object's raw bytes start there.
func decodeLeanAt(rd *jsonscan.Reader, r *leanpod.Reads) (*Object, bool) {
	start := rd.Offset()
	o := &Object{Kind: "Pod", Root: PodRoot}
	ps := &podSpec{}
	var apiVersion, kind []byte
	var seenMeta, seenSpec, nullSpec bool
	err := rd.Object(func(k []byte) error {
		var err error
		switch string(k) {
		case "apiVersion":
			if apiVersion != nil {
				return errLean
			}
			apiVersion, err = rd.Value()
		case "kind":
			if kind != nil {
				return errLean
			}
			kind, err = rd.Value()
		case "metadata":
			if seenMeta {
				return errLean
			}
			seenMeta = true
			if rd.Next() != 'n' {
				o.Meta = &metav1.ObjectMeta{}
				err = decodeLeanMeta(rd, o.Meta, r.Annotations)
			}
		case "spec":
			if seenSpec {
				return errLean
			}
			seenSpec = true
			if rd.Next() == 'n' {
				nullSpec = true
				return nil
			}
			err = decodeLeanSpec(rd, ps, r)
		}
		return err
	})
	if err != nil || !seenSpec || nullSpec {
		return nil, false
	}
	o.raw = rd.Since(start)
	var docKind string
	if apiVersion != nil && decodeString(apiVersion, &o.APIVersion) != nil {
		return nil, false
	}
	if kind != nil && decodeString(kind, &docKind) != nil {
		return nil, false
	}
	if docKind != "" && docKind != "Pod" {
		return nil, false
	}
	o.kindless = docKind == ""
	if o.Meta != nil {
		o.Name, o.Namespace, o.ResourceVersion = o.Meta.Name, o.Meta.Namespace, o.Meta.ResourceVersion
	}
	o.Spec, o.PodResources = &ps.PodSpec, ps.Resources
	return o, true
}

// decodeLeanMeta decodes of the metadata object at rd what the injection
// and Object read: name, namespace, resourceVersion and the annotations
// of the keys in annotations (all when it is nil; see decodeAnnotationsAt).
// The injection sets no label.
func decodeLeanMeta(rd *jsonscan.Reader, m *metav1.ObjectMeta, annotations map[string]bool) error {
	var seen [4]bool
	return rd.Object(func(k []byte) error {
		i := -1
		switch string(k) {
		case "name":
			i = 0
		case "namespace":
			i = 1
		case "resourceVersion":
			i = 2
		case "annotations":
			i = 3
		default:
			return nil
		}
		if seen[i] {
			return errLean
		}
		seen[i] = true
		if i == 3 && annotations != nil {
			return decodeAnnotationsAt(rd, &m.Annotations, annotations)
		}
		v, err := rd.Value()
		if err != nil {
			return err
		}
		switch i {
		case 0:
			return decodeString(v, &m.Name)
		case 1:
			return decodeString(v, &m.Namespace)
		case 2:
			return decodeString(v, &m.ResourceVersion)
		default:
			return decodeStringMap(v, &m.Annotations)
		}
	})
}

// decodeAnnotationsAt decodes of the JSON object at rd (read in place, in
// one scan) the members of the keys in keys into *m, as encoding/json
// decodes them into a map[string]string (a null object is a nil map, any
// other an allocated one, even when no key is kept): the injection reads
// a few annotations by key and whether the map is present (a patch adds a
// key to it or adds the map), never the rest, whose values are only
// checked to be strings (or null), as encoding/json requires. A value of
// another type, or a kept value that is not a plain string, leaves the
// whole object to decodeStringMap, read again from its start.
func decodeAnnotationsAt(rd *jsonscan.Reader, m *map[string]string, keys map[string]bool) error {
	start := rd.Offset()
	var out map[string]string
	err := errLean // null, or not an object: decodeStringMap words it
	if rd.Next() == '{' {
		out = map[string]string{}
		err = rd.Object(func(k []byte) error {
			if !keys[string(k)] {
				if c := rd.Next(); c == '"' || c == 'n' {
					return nil // a string, or null (skipped: a structural scan checks it)
				}
				return errLean
			}
			v, err := rd.Value()
			if err != nil {
				return err
			}
			s, ok := jsonscan.PlainString(v)
			if !ok {
				return errLean
			}
			out[string(k)] = s
			return nil
		})
	}
	if errors.Is(err, errLean) {
		rd.Seek(start)
		v, err := rd.Value()
		if err != nil {
			return err
		}
		return decodeStringMap(v, m)
	}
	if err != nil {
		return err
	}
	*m = out
	return nil
}

// decodeStringMap decodes the JSON object v into *m as encoding/json
// does: directly when every value is a plain string (jsonscan.PlainString),
// else with utiljson.
func decodeStringMap(v []byte, m *map[string]string) error {
	if string(v) == "null" {
		*m = nil
		return nil
	}
	out := map[string]string{}
	plain := true
	err := jsonscan.Object(v, func(k, v []byte) error {
		s, ok := jsonscan.PlainString(v)
		if !ok {
			plain = false
			return errLean
		}
		out[string(k)] = s
		return nil
	})
	if plain {
		if err != nil {
			return err
		}
		*m = out
		return nil
	}
	return utiljson.Unmarshal(v, m)
}

// podSpecFields maps the JSON names of the PodSpec fields decoded in
// full to their indices: every pod-level field (the scheduling fields a
// pinned injection edits and a capability source judges the nodes by,
// what the defaults and validation depend on, the overhead of the
// resource report), which are small beside the lists of containers and
// volumes. The container lists, "volumes" (see decodeVolumes) and
// "resources" (which podSpec decodes itself, see podSpec) are not in it.
var podSpecFields = func() map[string]int {
	m := jsonFields(reflect.TypeOf(corev1.PodSpec{}))
	for _, n := range []string{"containers", "initContainers", "volumes"} {
		delete(m, n)
	}
	return m
}()

// leanContainerField returns the index in the lean decode of the member k
// of a container, when the injection reads it: the name, what validation
// checks (restartPolicy, ports, the presence of an init container's
// lifecycle and probes, the mounts it adds) and the lists it adds to
// (volumeMounts, env, envFrom). Of the ephemeral containers and the
// sidecar's own, everything is decoded. A switch compares without
// hashing: it runs for every member of every container.
func leanContainerField(k []byte) (int, bool) {
	switch string(k) {
	case "name":
		return leanName, true
	case "restartPolicy":
		return leanRestartPolicy, true
	case "ports":
		return leanPorts, true
	case "volumeMounts":
		return leanVolumeMounts, true
	case "env":
		return leanEnv, true
	case "envFrom":
		return leanEnvFrom, true
	case "lifecycle":
		return leanLifecycle, true
	case "livenessProbe":
		return leanLivenessProbe, true
	case "readinessProbe":
		return leanReadinessProbe, true
	case "startupProbe":
		return leanStartupProbe, true
	}
	return 0, false
}

const (
	leanName = iota
	leanRestartPolicy
	leanPorts
	leanVolumeMounts
	leanEnv
	leanEnvFrom
	leanLifecycle
	leanLivenessProbe
	leanReadinessProbe
	leanStartupProbe
	leanFields
)

// jsonFields maps the JSON names of t's fields to their indices, as
// encoding/json names them (t has no embedded structs).
func jsonFields(t reflect.Type) map[string]int {
	m := make(map[string]int, t.NumField())
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if f.Anonymous || !f.IsExported() || name == "-" || name == "" || name == "resources" && t == reflect.TypeOf(corev1.PodSpec{}) {
			continue
		}
		m[name] = i
	}
	return m
}

// decodeLeanSpec decodes the PodSpec object at rd into ps.
func decodeLeanSpec(rd *jsonscan.Reader, ps *podSpec, r *leanpod.Reads) error {
	sv := reflect.ValueOf(&ps.PodSpec).Elem()
	var seen [2]uint64 // PodSpec fields seen, by index
	var containers, initContainers, resources, volumes bool
	return rd.Object(func(k []byte) error {
		switch string(k) {
		case "containers":
			if containers {
				return errLean
			}
			containers = true
			return decodeContainers(rd, &ps.Containers, false, r)
		case "initContainers":
			if initContainers {
				return errLean
			}
			initContainers = true
			return decodeContainers(rd, &ps.InitContainers, true, r)
		case "volumes":
			if volumes {
				return errLean
			}
			volumes = true
			return decodeVolumes(rd, &ps.Volumes, r.VolumeNames)
		case "resources":
			if resources {
				return errLean
			}
			resources = true
			v, err := rd.Value()
			if err != nil {
				return err
			}
			return utiljson.Unmarshal(v, &ps.Resources)
		}
		i, ok := podSpecFields[string(k)]
		if !ok {
			return nil
		}
		if i >= 128 || seen[i/64]&(1<<(i%64)) != 0 {
			return errLean
		}
		seen[i/64] |= 1 << (i % 64)
		v, err := rd.Value()
		if err != nil {
			return err
		}
		if podSpecScalars[i/64]&(1<<(i%64)) != 0 && decodeScalar(v, sv.Field(i)) {
			return nil
		}
		return decodeField(v, sv.Field(i))
	})
}

// decodeContainers decodes the container list at rd into l, each element
// with decodeLeanContainer; null leaves l nil.
func decodeContainers(rd *jsonscan.Reader, l *[]corev1.Container, init bool, r *leanpod.Reads) error {
	if rd.Next() == 'n' {
		_, err := rd.Value()
		return err
	}
	// A capacity from the bytes left (a container takes a few KB of
	// JSON), so that a Pod of one container allocates one.
	n := 1 + rd.Rest()/2048
	if n > 4 {
		n = 4
	}
	cs := make([]corev1.Container, 0, n)
	err := rd.Array(func(int) error {
		cs = append(cs, corev1.Container{})
		return decodeLeanContainer(rd, &cs[len(cs)-1], init, r)
	})
	if err != nil {
		return err
	}
	*l = cs
	return nil
}

// decodeLeanContainer decodes the container element at rd into c: in full
// when r names it, else only the members leanContainerField reads (of an
// init container with its lifecycle and probes, whose presence validation
// checks, and without volumeMounts and env, which the injection does not
// touch).
func decodeLeanContainer(rd *jsonscan.Reader, c *corev1.Container, init bool, r *leanpod.Reads) error {
	if rd.Next() == 'n' {
		_, err := rd.Value()
		return err
	}
	start := rd.Offset()
	var vals [leanFields][]byte // by leanContainerField's index
	err := rd.Object(func(k []byte) error {
		i, ok := leanContainerField(k)
		if !ok {
			return nil
		}
		if vals[i] != nil {
			return errLean
		}
		v, err := rd.Value()
		vals[i] = v
		return err
	})
	if err != nil {
		return err
	}
	e := rd.Since(start)
	if v := vals[leanName]; v != nil {
		if err := decodeString(v, &c.Name); err != nil {
			return err
		}
	}
	if r.Containers[c.Name] {
		*c = corev1.Container{}
		return utiljson.Unmarshal(e, c)
	}
	if v := vals[leanRestartPolicy]; v != nil {
		if err := utiljson.Unmarshal(v, &c.RestartPolicy); err != nil {
			return err
		}
	}
	if v := vals[leanPorts]; v != nil {
		if err := decodePorts(v, &c.Ports); err != nil {
			return err
		}
	}
	if init {
		for _, f := range [...]struct {
			i  int
			at interface{}
		}{{leanLifecycle, &c.Lifecycle}, {leanLivenessProbe, &c.LivenessProbe}, {leanReadinessProbe, &c.ReadinessProbe}, {leanStartupProbe, &c.StartupProbe}} {
			if v := vals[f.i]; v != nil {
				if err := utiljson.Unmarshal(v, f.at); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if v := vals[leanEnvFrom]; v != nil {
		if err := utiljson.Unmarshal(v, &c.EnvFrom); err != nil {
			return err
		}
	}
	// Without app mounts (app env) the injection reads no regular
	// container's mounts (env): they stay raw.
	if v := vals[leanVolumeMounts]; v != nil && len(r.MountPaths) > 0 {
		if err := decodeItems(v, &c.VolumeMounts, "mountPath", r.MountPaths, func(m *corev1.VolumeMount, key string, v []byte) error {
			if key == "name" {
				return decodeString(v, &m.Name)
			}
			return decodeString(v, &m.MountPath)
		}); err != nil {
			return err
		}
	}
	if v := vals[leanEnv]; v != nil && len(r.EnvNames) > 0 {
		if err := decodeItems(v, &c.Env, "name", r.EnvNames, func(e *corev1.EnvVar, _ string, v []byte) error {
			return decodeString(v, &e.Name)
		}); err != nil {
			return err
		}
	}
	return nil
}

// decodeItems decodes the JSON array v into *l as encoding/json does for
// the elements whose member key is in full; of the others it decodes only
// the members "name" and key, with set.
func decodeItems[T any](v []byte, l *[]T, key string, full map[string]bool, set func(item *T, member string, v []byte) error) error {
	if string(v) == "null" {
		*l = nil
		return nil
	}
	out := make([]T, 0, 4)
	err := jsonscan.Array(v, func(_ int, e []byte) error {
		var zero T
		out = append(out, zero)
		item := &out[len(out)-1]
		if string(e) == "null" {
			return nil
		}
		var name, k []byte
		err := jsonscan.Object(e, func(m, v []byte) error {
			var at *[]byte
			switch string(m) {
			case "name":
				at = &name
			case key:
				at = &k
			default:
				return nil
			}
			if *at != nil {
				return errLean
			}
			*at = v
			return nil
		})
		if err != nil {
			return err
		}
		if key == "name" {
			k = name
		}
		var kv string
		if k != nil {
			if err := decodeString(k, &kv); err != nil {
				return err
			}
		}
		if full[kv] {
			return utiljson.Unmarshal(e, item)
		}
		if name != nil {
			if err := set(item, "name", name); err != nil {
				return err
			}
		}
		if k != nil && key != "name" {
			return set(item, key, k)
		}
		return nil
	})
	if err != nil {
		return err
	}
	*l = out
	return nil
}

// decodeField decodes the JSON value v into the struct field f, as
// encoding/json decodes a member into its field.
func decodeField(v []byte, f reflect.Value) error {
	if f.Kind() == reflect.String {
		if s, ok := jsonscan.PlainString(v); ok {
			f.SetString(s)
			return nil
		}
	}
	if m, ok := f.Addr().Interface().(*map[string]string); ok { // nodeSelector
		return decodeStringMap(v, m)
	}
	return utiljson.Unmarshal(v, f.Addr().Interface())
}

// podSpecScalars marks, by field index, the PodSpec fields that
// decodeScalar may decode: those whose type scalarType accepts.
var podSpecScalars = func() (set [2]uint64) {
	t := reflect.TypeOf(corev1.PodSpec{})
	for _, i := range podSpecFields {
		if i < 128 && scalarType(t.Field(i)) {
			set[i/64] |= 1 << (i % 64)
		}
	}
	return set
}()

var (
	jsonUnmarshaler = reflect.TypeOf((*json.Unmarshaler)(nil)).Elem()
	textUnmarshaler = reflect.TypeOf((*encoding.TextUnmarshaler)(nil)).Elem()
)

// scalarType reports whether encoding/json decodes field f as a plain
// string, bool or integer, or a pointer to one: no decoding methods on
// the type or its pointer, no ",string" option.
func scalarType(f reflect.StructField) bool {
	if strings.Contains(f.Tag.Get("json"), ",string") {
		return false
	}
	t := f.Type
	for k := 0; k < 2; k++ {
		if t.Implements(jsonUnmarshaler) || t.Implements(textUnmarshaler) ||
			reflect.PointerTo(t).Implements(jsonUnmarshaler) || reflect.PointerTo(t).Implements(textUnmarshaler) {
			return false
		}
		switch t.Kind() {
		case reflect.String, reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			return true
		case reflect.Ptr:
			t = t.Elem()
		default:
			return false
		}
	}
	return false
}

// decodeScalar decodes v into f, a field scalarType accepts, as
// encoding/json does, when v is a plain string (see
// jsonscan.PlainString), a boolean, a decimal integer of at most 18
// digits or, for a pointer, null; it reports whether it did. Anything
// else is left to the full decoder: no utiljson call for the many small
// scalar fields of a PodSpec.
func decodeScalar(v []byte, f reflect.Value) bool {
	if f.Kind() == reflect.Ptr {
		if string(v) == "null" {
			f.Set(reflect.Zero(f.Type()))
			return true
		}
		p := reflect.New(f.Type().Elem())
		if !decodeScalar(v, p.Elem()) {
			return false
		}
		f.Set(p)
		return true
	}
	switch f.Kind() {
	case reflect.String:
		s, ok := jsonscan.PlainString(v)
		if ok {
			f.SetString(s)
		}
		return ok
	case reflect.Bool:
		if b := string(v); b == "true" || b == "false" {
			f.SetBool(b == "true")
			return true
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, ok := plainInt(v)
		if ok && !f.OverflowInt(n) {
			f.SetInt(n)
			return true
		}
	}
	return false
}

// plainInt returns the integer v holds when v is a JSON number without
// fraction or exponent of at most 18 digits (which no int64 overflows).
func plainInt(v []byte) (int64, bool) {
	d, neg := v, false
	if len(d) > 0 && d[0] == '-' {
		d, neg = d[1:], true
	}
	if len(d) == 0 || len(d) > 18 || d[0] == '0' && len(d) > 1 {
		return 0, false
	}
	var n int64
	for _, c := range d {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

// decodeString decodes the JSON value v into *s.
func decodeString(v []byte, s *string) error {
	if p, ok := jsonscan.PlainString(v); ok {
		*s = p
		return nil
	}
	return utiljson.Unmarshal(v, s)
}

// decodePorts decodes the JSON array v into *l as encoding/json does:
// directly when every member it knows is a plain string or an int32
// without fraction or exponent, else with utiljson.
func decodePorts(v []byte, l *[]corev1.ContainerPort) error {
	if string(v) == "null" {
		*l = nil
		return nil
	}
	out := make([]corev1.ContainerPort, 0, 2)
	plain := true
	err := jsonscan.Array(v, func(_ int, e []byte) error {
		out = append(out, corev1.ContainerPort{})
		p := &out[len(out)-1]
		var seen [5]bool
		return jsonscan.Object(e, func(k, v []byte) error {
			var str *string
			var num *int32
			i := 0
			switch string(k) {
			case "name":
				str = &p.Name
			case "hostPort":
				num, i = &p.HostPort, 1
			case "containerPort":
				num, i = &p.ContainerPort, 2
			case "protocol":
				i = 3
			case "hostIP":
				str, i = &p.HostIP, 4
			default:
				return nil
			}
			if seen[i] {
				plain = false
				return errLean
			}
			seen[i] = true
			if num != nil {
				n, err := strconv.ParseInt(string(v), 10, 32)
				if err != nil {
					plain = false
					return errLean
				}
				*num = int32(n)
				return nil
			}
			s, ok := jsonscan.PlainString(v)
			if !ok {
				plain = false
				return errLean
			}
			if str != nil {
				*str = s
			} else {
				p.Protocol = corev1.Protocol(s)
			}
			return nil
		})
	})
	if plain {
		if err != nil {
			return err
		}
		*l = out
		return nil
	}
	return utiljson.Unmarshal(v, l)
}

// decodeVolumes decodes the volume list at rd into *l as encoding/json
// does for the volumes named in full; of the others only the name, which
// is all the injection reads of them (validation of mounts, clashes with
// the Spec's volumes), and whether they are projected (a projected volume
// named like the ServiceAccount plugin's changes the defaults the
// injection compares containers with): an empty ProjectedVolumeSource
// stands for the source, whose content stays raw.
func decodeVolumes(rd *jsonscan.Reader, l *[]corev1.Volume, full map[string]bool) error {
	if rd.Next() == 'n' {
		*l = nil
		_, err := rd.Value()
		return err
	}
	out := make([]corev1.Volume, 0, 4)
	err := rd.Array(func(int) error {
		out = append(out, corev1.Volume{})
		vol := &out[len(out)-1]
		if rd.Next() == 'n' {
			return nil
		}
		start := rd.Offset()
		var name []byte
		var projected byte // the first byte of its value; 0 when absent
		err := rd.Object(func(k []byte) error {
			switch string(k) {
			case "name":
				if name != nil {
					return errLean
				}
				v, err := rd.Value()
				name = v
				return err
			case "projected":
				if projected != 0 {
					return errLean // encoding/json merges repeated objects
				}
				if projected = rd.Next(); projected != '{' && projected != 'n' {
					return errLean // a type error DecodeAs words
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		if name != nil {
			if err := decodeString(name, &vol.Name); err != nil {
				return err
			}
		}
		if full[vol.Name] {
			*vol = corev1.Volume{}
			return utiljson.Unmarshal(rd.Since(start), vol)
		}
		if projected == '{' {
			vol.Projected = &corev1.ProjectedVolumeSource{}
		}
		return nil
	})
	if err != nil {
		return err
	}
	*l = out
	return nil
}
