// Command stripwebhook is a mutating admission webhook built against
// k8s.io/api v0.27.16, whose core/v1 Container has no restartPolicy. Like
// the webhooks that the Kubernetes sidecar troubleshooting guide warns
// about, it decodes the Pod into its typed struct, makes its change (an
// annotation), and answers with a patch that replaces the whole spec with
// the re-encoded struct: every field its types do not know is removed,
// restartPolicy: Always of native sidecars included
// (docs/field-stripping.md#webhooks-built-with-old-client-libraries).
// The e2e tests of `sidecarctl doctor cluster` (e2e/doctor) register it
// and expect the doctor to name it.
//
//	stripwebhook -cert FILE -key FILE [-listen 127.0.0.1:0]
//
// It serves AdmissionReview v1 on POST /mutate and prints
// "listening on HOST:PORT" on stdout once it accepts connections.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Annotation is what the webhook adds: its intended change.
const Annotation = "stripwebhook.e2e.sidecarkit.io/seen"

// maxReview bounds the AdmissionReview a request may carry.
const maxReview = 8 << 20

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "stripwebhook:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("stripwebhook", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:0", "address to listen on")
	cert := fs.String("cert", "", "TLS serving certificate (PEM)")
	key := fs.String("key", "", "TLS serving key (PEM)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cert == "" || *key == "" {
		return errors.New("-cert and -key are required")
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/mutate", serve)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "listening on %s\n", ln.Addr())
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.ServeTLS(ln, *cert, *key) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return srv.Shutdown(shutdown)
	}
}

func serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST an AdmissionReview", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxReview+1))
	if err != nil || len(body) > maxReview {
		http.Error(w, "read request", http.StatusBadRequest)
		return
	}
	var review admissionv1.AdmissionReview
	if err := json.Unmarshal(body, &review); err != nil || review.Request == nil {
		http.Error(w, "decode AdmissionReview", http.StatusBadRequest)
		return
	}
	resp, err := admit(review.Request)
	if err != nil {
		resp = &admissionv1.AdmissionResponse{Allowed: false, Result: &metav1.Status{Status: metav1.StatusFailure, Code: http.StatusBadRequest, Message: "stripwebhook: " + err.Error()}}
	}
	resp.UID = review.Request.UID
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(&admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Response: resp,
	})
}

// admit decodes the Pod into the v0.27 types, adds the annotation, and
// replaces metadata.annotations and spec with their re-encoded forms.
func admit(req *admissionv1.AdmissionRequest) (*admissionv1.AdmissionResponse, error) {
	var pod corev1.Pod
	if err := json.Unmarshal(req.Object.Raw, &pod); err != nil {
		return nil, err
	}
	if pod.Annotations == nil {
		pod.Annotations = map[string]string{}
	}
	pod.Annotations[Annotation] = "true"
	spec, err := json.Marshal(pod.Spec)
	if err != nil {
		return nil, err
	}
	ann, err := json.Marshal(pod.Annotations)
	if err != nil {
		return nil, err
	}
	patch, err := json.Marshal([]map[string]json.RawMessage{
		{"op": json.RawMessage(`"add"`), "path": json.RawMessage(`"/metadata/annotations"`), "value": ann},
		{"op": json.RawMessage(`"replace"`), "path": json.RawMessage(`"/spec"`), "value": spec},
	})
	if err != nil {
		return nil, err
	}
	pt := admissionv1.PatchTypeJSONPatch
	return &admissionv1.AdmissionResponse{Allowed: true, Patch: patch, PatchType: &pt}, nil
}
