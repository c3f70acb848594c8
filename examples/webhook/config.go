package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/sidecarkit/sidecarkit/admission"
	"github.com/sidecarkit/sidecarkit/sidecar"
	"github.com/sidecarkit/sidecarkit/universal"
)

// fileConfig is the webhook's configuration file (YAML or JSON). See
// README.md "Configuration reference".
type fileConfig struct {
	// Sidecar is the sidecar spec inline (a plain container or a full
	// sidecar spec); SidecarFile a path to one, relative to the config
	// file. Exactly one is required.
	Sidecar     json.RawMessage `json:"sidecar,omitempty"`
	SidecarFile string          `json:"sidecarFile,omitempty"`
	// Mode is auto (default), native, legacy, pinned or universal;
	// Fallback the mode auto takes when the capability is unknown
	// (default legacy).
	Mode                      string `json:"mode,omitempty"`
	Fallback                  string `json:"fallback,omitempty"`
	AllowPinned               bool   `json:"allowPinned,omitempty"`
	AvoidUnorderedTermination bool   `json:"avoidUnorderedTermination,omitempty"`
	// Workloads also mutates the pod templates of workload kinds (the
	// webhook's rules must match them too).
	Workloads bool `json:"workloads,omitempty"`
	// AllowOnError admits Pods that cannot take the sidecar unchanged.
	AllowOnError bool `json:"allowOnError,omitempty"`
	// ExcludeNamespaces are never mutated.
	ExcludeNamespaces []string `json:"excludeNamespaces,omitempty"`
	// Selection opts Pods in or out by label or annotation.
	Selection selection `json:"selection,omitempty"`
	// Universal says how the twins of the universal pair get the
	// handshake runner.
	Universal *universalConfig `json:"universal,omitempty"`
}

type selection struct {
	// Policy is "opt-out" (default: inject unless the Pod says false) or
	// "opt-in" (inject only when the Pod says true).
	Policy string `json:"policy,omitempty"`
	// Key is the label or annotation read (labels first); default
	// "sidecar.sidecarkit.io/inject". Values: true/enabled or
	// false/disabled.
	Key string `json:"key,omitempty"`
}

type universalConfig struct {
	// Handshake is the runner's command in the sidecar image.
	Handshake []string `json:"handshake,omitempty"`
	// HandshakeImage is an image an init container copies the runner
	// from, with HandshakeImageCommand its command there.
	HandshakeImage        string   `json:"handshakeImage,omitempty"`
	HandshakeImageCommand []string `json:"handshakeImageCommand,omitempty"`
	// MountPath is where the twins mount the handshake volume.
	MountPath string `json:"mountPath,omitempty"`
}

const defaultSelectionKey = "sidecar.sidecarkit.io/inject"

// loadConfig reads the configuration file at path and returns the
// admission configuration it describes (without a capability source).
func loadConfig(path string) (admission.Config, error) {
	c, _, err := loadConfigFiles(path)
	return c, err
}

// loadConfigFiles is loadConfig that also returns the files it read: path,
// and the sidecarFile it names, if any.
func loadConfigFiles(path string) (admission.Config, []string, error) {
	b, err := readFile(path)
	if err != nil {
		return admission.Config{}, nil, err
	}
	var fc fileConfig
	if err := yaml.UnmarshalStrict(b, &fc); err != nil {
		return admission.Config{}, nil, fmt.Errorf("%s: %w", path, err)
	}
	c, sidecarPath, err := fc.admission(filepath.Dir(path))
	if err != nil {
		return admission.Config{}, nil, fmt.Errorf("%s: %w", path, err)
	}
	files := []string{path}
	if sidecarPath != "" {
		files = append(files, sidecarPath)
	}
	return c, files, nil
}

// admission builds the admission configuration; sidecarPath is the
// sidecarFile it read, resolved against dir ("" when inline).
func (fc *fileConfig) admission(dir string) (c admission.Config, sidecarPath string, err error) {
	var specBytes []byte
	switch {
	case len(fc.Sidecar) > 0 && fc.SidecarFile != "":
		return c, "", fmt.Errorf("sidecar and sidecarFile exclude each other")
	case len(fc.Sidecar) > 0:
		specBytes = fc.Sidecar
	case fc.SidecarFile != "":
		sidecarPath = fc.SidecarFile
		if !filepath.IsAbs(sidecarPath) {
			sidecarPath = filepath.Join(dir, sidecarPath)
		}
		b, err := readFile(sidecarPath)
		if err != nil {
			return c, "", fmt.Errorf("sidecarFile: %w", err)
		}
		specBytes = b
	default:
		return c, "", fmt.Errorf("sidecar or sidecarFile is required")
	}
	spec, err := sidecar.LoadSpec(specBytes)
	if err != nil {
		return c, "", fmt.Errorf("sidecar: %w", err)
	}
	c.Spec = spec
	if c.Options.Mode, err = sidecar.ParseMode(fc.Mode); err != nil {
		return c, "", fmt.Errorf("mode: %w", err)
	}
	if fc.Fallback != "" {
		if c.Options.Fallback, err = sidecar.ParseMode(fc.Fallback); err != nil {
			return c, "", fmt.Errorf("fallback: %w", err)
		}
	}
	c.Options.AllowPinned = fc.AllowPinned
	c.Options.AvoidUnorderedTermination = fc.AvoidUnorderedTermination
	if fc.Universal != nil {
		u := fc.Universal
		p := universal.Planner{MountPath: u.MountPath}
		switch {
		case len(u.Handshake) > 0 && u.HandshakeImage != "":
			return c, "", fmt.Errorf("universal: handshake and handshakeImage exclude each other")
		case len(u.Handshake) > 0:
			p.Handshake = u.Handshake
		case u.HandshakeImage != "":
			cmd := u.HandshakeImageCommand
			if len(cmd) == 0 {
				cmd = []string{"/sidecarctl", "handshake"}
			}
			p.Copier = &universal.Copier{Image: u.HandshakeImage, Handshake: cmd}
		default:
			return c, "", fmt.Errorf("universal: handshake or handshakeImage is required")
		}
		c.Options.Universal = p
	}
	decide, err := fc.Selection.decide()
	if err != nil {
		return c, "", err
	}
	c.Options.Decide = decide
	c.Workloads = fc.Workloads
	c.AllowOnError = fc.AllowOnError
	c.ExcludeNamespaces = fc.ExcludeNamespaces
	return c, sidecarPath, nil
}

// decide returns the opt-in/opt-out hook of the selection.
func (s selection) decide() (func(*metav1.ObjectMeta, *corev1.PodSpec) sidecar.Decision, error) {
	key := s.Key
	if key == "" {
		key = defaultSelectionKey
	}
	var optIn bool
	switch s.Policy {
	case "", "opt-out":
	case "opt-in":
		optIn = true
	default:
		return nil, fmt.Errorf("selection.policy: %q is not opt-in or opt-out", s.Policy)
	}
	return func(meta *metav1.ObjectMeta, _ *corev1.PodSpec) sidecar.Decision {
		var v string
		var where string
		if meta != nil {
			if l, ok := meta.Labels[key]; ok {
				v, where = l, "label"
			} else if a, ok := meta.Annotations[key]; ok {
				v, where = a, "annotation"
			}
		}
		switch strings.ToLower(v) {
		case "true", "enabled":
			return sidecar.Decision{Inject: true, Reason: fmt.Sprintf("%s %s=%s", where, key, v)}
		case "false", "disabled":
			return sidecar.Decision{Inject: false, Reason: fmt.Sprintf("%s %s=%s", where, key, v)}
		}
		if optIn {
			return sidecar.Decision{Inject: false, Reason: fmt.Sprintf("opt-in: no %s=true label or annotation", key)}
		}
		return sidecar.Decision{Inject: true, Reason: "opt-out policy"}
	}, nil
}
