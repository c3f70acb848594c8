package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	jsonpatch "github.com/evanphx/json-patch/v5"
	"github.com/spf13/cobra"

	"github.com/sidecarkit/sidecarkit/patch"
	"github.com/sidecarkit/sidecarkit/sidecar"
	"github.com/sidecarkit/sidecarkit/universal"
)

type injectFlags struct {
	file, sidecarFile string
	mode              string
	cluster           clusterFlags
	output            string
	allowPinned       bool
	verbose           bool
	universal         universalFlags
}

var outputs = []string{"jsonpatch", "strategic", "json", "yaml"}

// modeNames are the values of --mode (sidecar.ParseMode's), for its help
// and its shell completion.
var modeNames = []string{"auto", string(sidecar.Native), string(sidecar.Legacy), string(sidecar.Pinned), string(sidecar.Universal)}

func newInject(stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	f := &injectFlags{}
	cmd := &cobra.Command{
		Use:   "inject -f FILE|- --sidecar FILE",
		Short: "Inject a sidecar into a Pod or workload and print the patch",
		Long: `Inject a sidecar into each Pod or workload (Deployment, StatefulSet, DaemonSet,
ReplicaSet, Job, CronJob, ReplicationController, PodTemplate) of a YAML or JSON
input, and print an RFC 6902 JSON patch (the default), a strategic merge patch,
or the mutated object. Nothing to do prints [] (or {} for -o strategic).

Several objects: -o yaml prints a YAML stream and -o json one v1 List, objects
of other kinds passed through unchanged; -o jsonpatch and -o strategic print
one JSON document {"patchType": "json"|"strategic", "items": [{"source",
"apiVersion", "kind", "namespace", "name", "patch"}, ...]}, one item per Pod or
workload in the input's order. -o yaml and -o json keep the input's field
order.

The mode (auto by default) is chosen from what the cluster can do: give the API
server's version, the kubelets' version or the nodes (kubectl get nodes -o json),
and the API server's metrics (kubectl get --raw /metrics).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runInject(f, stdin, stdout, stderr)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.file, "filename", "f", "", "the Pod or workload, YAML or JSON; - reads stdin")
	fl.StringVar(&f.sidecarFile, "sidecar", "", "the sidecar: a plain container or a full sidecar spec, YAML or JSON")
	fl.StringVar(&f.mode, "mode", "auto", "injection mode: "+strings.Join(modeNames, "|"))
	f.cluster.register(cmd)
	fl.StringVarP(&f.output, "output", "o", "jsonpatch", "output: "+strings.Join(outputs, "|"))
	fl.BoolVar(&f.allowPinned, "allow-pinned", false, "let auto pin Pods to native-capable nodes when some nodes cannot run native sidecars")
	fl.BoolVarP(&f.verbose, "verbose", "v", false, "print the chosen mode and its reason to stderr")
	fl.StringVar(&f.universal.handshake, "handshake", "", `universal pair: the handshake runner in the sidecar image, e.g. "/usr/local/bin/sidecarctl handshake"`)
	fl.StringVar(&f.universal.handshakeImage, "handshake-image", "", "universal pair: an image an init container copies the handshake runner from")
	fl.StringVar(&f.universal.imageHandshake, "handshake-image-command", "/sidecarctl handshake", "universal pair: the handshake runner's command in --handshake-image")
	fl.StringVar(&f.universal.mountPath, "handshake-dir", "", "universal pair: where the twins mount the handshake volume (default "+universal.DefaultMountPath+")")
	// Shell completion of the flags with a fixed set of values.
	_ = cmd.RegisterFlagCompletionFunc("mode", cobra.FixedCompletions(modeNames, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions(outputs, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func runInject(f *injectFlags, stdin io.Reader, stdout, stderr io.Writer) error {
	if f.file == "" {
		return fmt.Errorf("inject: -f is required (a file, or - for stdin)")
	}
	if f.sidecarFile == "" {
		return fmt.Errorf("inject: --sidecar is required")
	}
	if !contains(outputs, f.output) {
		return fmt.Errorf("inject: unknown output %q (want one of %s)", f.output, strings.Join(outputs, ", "))
	}
	mode, err := sidecar.ParseMode(f.mode)
	if err != nil {
		return fmt.Errorf("inject: --mode: %w", err)
	}
	specBytes, err := readInput(f.sidecarFile, stdin)
	if err != nil {
		return err
	}
	spec, err := sidecar.LoadSpec(specBytes)
	if err != nil {
		return fmt.Errorf("%s: %w", f.sidecarFile, err)
	}
	docs, err := readDocuments(f.file, stdin)
	if err != nil {
		return err
	}
	facts, err := f.cluster.load(stdin)
	if err != nil {
		return err
	}
	planner, err := f.universal.planner()
	if err != nil {
		return err
	}
	if mode == sidecar.Universal && planner == nil {
		return fmt.Errorf("inject: --mode universal needs --handshake (the runner is in the sidecar image) or --handshake-image (an init container copies it)")
	}
	opts := sidecar.Options{Mode: mode, AllowPinned: f.allowPinned, Universal: planner}
	injector, err := sidecar.NewInjector(spec)
	if err != nil {
		return err
	}
	var out bytes.Buffer
	written := 0 // documents printed, for YAML separators
	var passed []string
	var patches []patchItem // -o jsonpatch and -o strategic
	for _, d := range docs {
		if kind := kindOf(d.json); kind != "" {
			if _, err := patch.RootFor(kind); err != nil {
				// Another kind (a Service, a ConfigMap, a Namespace, ...):
				// passed through unchanged with -o yaml and -o json, so that
				// a whole manifest can go on to kubectl apply, as istioctl
				// kube-inject and linkerd inject do; no patch for it.
				if f.verbose {
					fmt.Fprintf(stderr, "%s: %s passed through unchanged\n", d.source, kind)
				}
				passed = append(passed, kind)
				if f.output == "yaml" || f.output == "json" {
					if err := passThrough(&out, f.output, d, written > 0); err != nil {
						return fmt.Errorf("%s: %w", d.source, err)
					}
					written++
				}
				continue
			}
		}
		obj, err := patch.Decode(d.json)
		if err != nil {
			return fmt.Errorf("%s: %w", d.source, err)
		}
		// Judge the nodes as the Pod would schedule without a pin of
		// ours: judged with it, a pinned Pod looks all-native and a
		// second run would unpin it.
		sched, err := sidecar.SchedulingSpec(obj.Meta, obj.Spec, spec.Container.Name)
		if err != nil {
			return fmt.Errorf("%s: %w", d.source, err)
		}
		c, err := facts.capability(sched)
		if err != nil {
			return fmt.Errorf("%s: %w", d.source, err)
		}
		// InjectObject sees the raw fields the compiled types lack, and
		// takes the pod-level resources from the object.
		res, err := injector.InjectObject(context.Background(), obj, c, opts)
		if err != nil {
			return fmt.Errorf("%s: %w", d.source, err)
		}
		if f.verbose {
			if res.Skipped != "" {
				fmt.Fprintf(stderr, "%s: skipped (%s): %s\n", d.source, res.Skipped, res.Reason)
			} else {
				fmt.Fprintf(stderr, "%s: %s: %s\n", d.source, res.Mode, res.Reason)
			}
		}
		for _, w := range res.Warnings {
			fmt.Fprintf(stderr, "sidecarctl: warning: %s: %s\n", d.source, warningText(w))
		}
		if f.output == "jsonpatch" || f.output == "strategic" {
			p, err := patchOf(f.output, obj, res.Mutation)
			if err != nil {
				return fmt.Errorf("%s: %w", d.source, err)
			}
			patches = append(patches, newPatchItem(d, p))
			continue
		}
		if err := render(&out, f.output, d, obj, res.Mutation, written > 0); err != nil {
			return fmt.Errorf("%s: %w", d.source, err)
		}
		written++
	}
	if len(passed) == len(docs) {
		return fmt.Errorf("%s: no Pod or workload to inject into (found %s)", displayName(f.file), strings.Join(passed, ", "))
	}
	if err := writePatches(&out, f.output, patches); err != nil {
		return err
	}
	if f.output == "json" && written > 1 {
		// Several objects: one JSON document, a v1 List, as kubectl get
		// -o json prints them (kubectl apply -f - takes it).
		if err := asList(&out); err != nil {
			return err
		}
	}
	_, err = stdout.Write(out.Bytes())
	return err
}

// asList replaces the JSON objects in out with one v1 List of them.
func asList(out *bytes.Buffer) error {
	var items []json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(out.Bytes()))
	for dec.More() {
		var item json.RawMessage
		if err := dec.Decode(&item); err != nil {
			return err
		}
		items = append(items, item)
	}
	list, err := json.Marshal(struct {
		APIVersion string            `json:"apiVersion"`
		Kind       string            `json:"kind"`
		Items      []json.RawMessage `json:"items"`
	}{"v1", "List", items})
	if err != nil {
		return err
	}
	out.Reset()
	return writeIndented(out, list)
}

// kindOf returns the document's "kind", or "" when it has none or is not
// an object.
func kindOf(doc []byte) string {
	var head struct {
		Kind string `json:"kind"`
	}
	if json.Unmarshal(doc, &head) != nil {
		return ""
	}
	return head.Kind
}

// passThrough writes a document of a kind inject does not change, as it
// is, in the output form (yaml or json).
func passThrough(w *bytes.Buffer, output string, d document, notFirst bool) error {
	if output == "json" {
		return writeIndented(w, d.json)
	}
	y, err := yamlFromJSON(d.json)
	if err != nil {
		return err
	}
	if notFirst {
		w.WriteString("---\n")
	}
	w.Write(y)
	return nil
}

// patchOf returns the document's patch as JSON: an RFC 6902 JSON patch
// (output "jsonpatch") or a strategic merge patch ("strategic").
func patchOf(output string, obj *patch.Object, m *patch.Mutation) (json.RawMessage, error) {
	if output == "strategic" {
		return m.StrategicMerge(obj.Root)
	}
	ops, err := m.JSONPatch(obj.Root)
	if err != nil {
		return nil, err
	}
	return json.Marshal(ops)
}

// patchItem is one object's patch in the form -o jsonpatch and -o
// strategic print for several objects (examples/README.md#several-objects):
// which object, by the fields kubectl patch needs, and its patch.
type patchItem struct {
	// Source is the input and the document's position, as messages
	// name it: "all.yaml (document 3)".
	Source     string          `json:"source"`
	APIVersion string          `json:"apiVersion,omitempty"`
	Kind       string          `json:"kind,omitempty"`
	Namespace  string          `json:"namespace,omitempty"`
	Name       string          `json:"name,omitempty"`
	Patch      json.RawMessage `json:"patch"`
}

func newPatchItem(d document, p json.RawMessage) patchItem {
	var head struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Namespace string `json:"namespace"`
			Name      string `json:"name"`
		} `json:"metadata"`
	}
	_ = json.Unmarshal(d.json, &head) // decoded before: patch.Decode took it
	return patchItem{Source: d.source, APIVersion: head.APIVersion, Kind: head.Kind,
		Namespace: head.Metadata.Namespace, Name: head.Metadata.Name, Patch: p}
}

// writePatches writes the patches of -o jsonpatch and -o strategic: one
// object's patch as it is (for kubectl patch -p), several as one JSON
// document {"patchType": "json"|"strategic", "items": [patchItem...]} in
// the input's order, patchType being kubectl patch's --type.
func writePatches(w *bytes.Buffer, output string, items []patchItem) error {
	switch len(items) {
	case 0:
		return nil
	case 1:
		return writeIndented(w, items[0].Patch)
	}
	patchType := "json"
	if output == "strategic" {
		patchType = "strategic"
	}
	b, err := json.Marshal(struct {
		PatchType string      `json:"patchType"`
		Items     []patchItem `json:"items"`
	}{patchType, items})
	if err != nil {
		return err
	}
	return writeIndented(w, b)
}

// render writes one document's mutated object, -o json or -o yaml.
func render(w *bytes.Buffer, output string, d document, obj *patch.Object, m *patch.Mutation, notFirst bool) error {
	opsJSON, err := patchOf("jsonpatch", obj, m)
	if err != nil {
		return err
	}
	p, err := jsonpatch.DecodePatch(opsJSON)
	if err != nil {
		return err
	}
	mutated, err := p.Apply(d.json)
	if err != nil {
		return fmt.Errorf("apply the patch: %w", err)
	}
	if output == "json" {
		return writeIndented(w, mutated)
	}
	y, err := yamlFromJSON(mutated)
	if err != nil {
		return err
	}
	if notFirst {
		w.WriteString("---\n")
	}
	w.Write(y)
	return nil
}

func writeIndented(w *bytes.Buffer, js []byte) error {
	if err := json.Indent(w, js, "", "  "); err != nil {
		return err
	}
	w.WriteByte('\n')
	return nil
}

func contains(l []string, s string) bool {
	for _, v := range l {
		if v == s {
			return true
		}
	}
	return false
}
