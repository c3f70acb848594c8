package compat

import (
	"fmt"

	"github.com/sidecarkit/sidecarkit/internal/annotation"
)

// CodeSidecarDefault is the [Finding] code of a Pod whose kubectl default
// container is a sidecar: kubectl logs and exec reach the sidecar, not the
// application.
const CodeSidecarDefault Code = "sidecar-default-container"

// defaultContainerAnnotation is the annotation that names the container
// kubectl logs, exec and attach use when none is given; without it they
// use the first regular container (docs/doctor.md#kubectls-default-container).
const defaultContainerAnnotation = annotation.DefaultContainer

// defaultContainer reports a Pod whose kubectl default container is a
// sidecar: the annotation names a native sidecar or an injected legacy
// sidecar, or, without the annotation, the first regular container is an
// injected legacy sidecar (a record claims it) or is named like one (a
// weak hint, reported as info).
func (d *diagnosis) defaultContainer() {
	spec := &d.pod.Spec
	if len(spec.Containers) == 0 {
		return
	}
	legacy := legacyRecords(d.pod.Annotations)
	app := ""
	for _, c := range spec.Containers {
		if legacy[c.Name] == "" {
			app = c.Name
			break
		}
	}
	fix := "Annotate the Pod (or its template) with " + defaultContainerAnnotation + " naming the application container, so that kubectl logs and exec reach it"
	if app != "" {
		fix = fmt.Sprintf("Annotate the Pod (or its template) with %s: %q, so that kubectl logs and exec reach the application", defaultContainerAnnotation, app)
	}
	if name, ok := d.pod.Annotations[defaultContainerAnnotation]; ok && name != "" {
		path := "metadata.annotations[" + defaultContainerAnnotation + "]"
		// kubectl looks the name up among the regular containers first,
		// then the init containers (k8s.io/kubectl pkg/cmd/util/podcmd).
		if findContainer(spec.Containers, name) != nil {
			if key := legacy[name]; key != "" {
				d.add(Finding{Code: CodeSidecarDefault, Severity: SeverityWarning, Path: path,
					Message: fmt.Sprintf("the annotation makes sidecar %q the container kubectl logs and exec use by default (annotation %s records that sidecarkit injected it)", name, key),
					Fix:     fix + "."})
			}
			return
		}
		for i := range spec.InitContainers {
			if spec.InitContainers[i].Name == name && d.meantAsSidecar(i) {
				d.add(Finding{Code: CodeSidecarDefault, Severity: SeverityWarning, Path: path,
					Message: fmt.Sprintf("the annotation makes native sidecar %q (spec.initContainers[%d]) the container kubectl logs and exec use by default", name, i),
					Fix:     fix + "."})
				return
			}
		}
		return
	}
	if len(spec.Containers) < 2 {
		return // no other container to default to
	}
	first := &spec.Containers[0]
	if key := legacy[first.Name]; key != "" {
		d.add(Finding{Code: CodeSidecarDefault, Severity: SeverityWarning, Path: "spec.containers[0]",
			Message: fmt.Sprintf("sidecar %q is the first regular container and the Pod has no %s annotation, so kubectl logs and exec use it by default (annotation %s records that sidecarkit injected it)", first.Name, defaultContainerAnnotation, key),
			Fix:     fix + ", or inject the legacy sidecar after the application containers."})
		return
	}
	if h := sidecarNameHint(first.Name); h != "" {
		d.add(Finding{Code: CodeSidecarDefault, Severity: SeverityInfo, Path: "spec.containers[0]",
			Message: fmt.Sprintf("the first regular container %q, which kubectl logs and exec use by default (no %s annotation), is named like a sidecar (%q); if it is one, the application is not the default", first.Name, defaultContainerAnnotation, h),
			Fix:     fix + "."})
	}
}
