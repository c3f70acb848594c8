package crwebhook_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	sidecaradmission "github.com/sidecarkit/sidecarkit/admission"
	"github.com/sidecarkit/sidecarkit/crwebhook"
)

// review posts an AdmissionReview to mux and decodes the answer.
func review(t *testing.T, mux http.Handler, path string, body []byte) (int, *admissionv1.AdmissionResponse) {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, r)
	var out admissionv1.AdmissionReview
	if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
		t.Fatalf("status %d, body %.300q: %v", w.Code, w.Body.String(), err)
	}
	return w.Code, out.Response
}

func reviewBody(t *testing.T, raw []byte) []byte {
	t.Helper()
	req := request(admissionv1.Create, "", "Pod", raw)
	b, err := json.Marshal(admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request:  &req.AdmissionRequest,
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRegister registers a Handler on a real webhook.Server and sends
// reviews through the server's WebhookMux, as the API server's requests
// arrive (no network: the mux is the server's handler).
func TestRegister(t *testing.T) {
	native := capability(t, "v1.33.1", "v1.33.1")
	legacy := capability(t, "v1.33.1", "v1.27.9")
	pod := readFile(t, "testdata/pod.json")
	srv := webhook.NewServer(webhook.Options{})
	if err := crwebhook.Register(srv, "/legacy", newHandler(t, crwebhook.Config{Capability: fixed(legacy)})); err != nil {
		t.Fatal(err)
	}
	if err := crwebhook.Register(srv, "/native", newHandler(t, crwebhook.Config{Capability: fixed(native)})); err != nil {
		t.Fatal(err)
	}
	mux := srv.WebhookMux()

	code, resp := review(t, mux, "/legacy", reviewBody(t, pod))
	if code != http.StatusOK || resp == nil || !resp.Allowed || resp.UID != "42" {
		t.Fatalf("legacy: status %d, response %+v", code, resp)
	}
	legacyPod := apply(t, pod, resp.Patch)

	// The migration's move reaches the API server through
	// controller-runtime's response writing.
	code, resp = review(t, mux, "/native", reviewBody(t, legacyPod))
	if code != http.StatusOK || resp == nil || !resp.Allowed {
		t.Fatalf("native: status %d, response %+v", code, resp)
	}
	if resp.PatchType == nil || *resp.PatchType != admissionv1.PatchTypeJSONPatch {
		t.Errorf("patch type %v", resp.PatchType)
	}
	if !bytes.Contains(resp.Patch, []byte(`{"op":"move","from":"/spec/containers/0","path":"/spec/initContainers/0"}`)) {
		t.Errorf("patch = %s, want the move", resp.Patch)
	}

	// A body over the limit is refused, not read whole.
	big := reviewBody(t, bytes.Replace(pod, []byte(`"spec": {`), append([]byte(`"spec": {"x-pad": "`+strings.Repeat("x", sidecaradmission.DefaultMaxBodyBytes)), []byte(`",`)...), 1))
	code, resp = review(t, mux, "/native", big)
	if resp == nil || resp.Allowed || resp.Result == nil || resp.Result.Code != http.StatusBadRequest {
		t.Fatalf("body of %d bytes: status %d, response %+v", len(big), code, resp)
	}
	t.Logf("body of %d bytes: %s", len(big), resp.Result.Message)
}

func TestRegisterErrors(t *testing.T) {
	h := newHandler(t, crwebhook.Config{})
	srv := webhook.NewServer(webhook.Options{})
	if err := crwebhook.Register(srv, "/mutate", h); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		srv  webhook.Server
		path string
		h    *crwebhook.Handler
		want string
	}{
		{"duplicate path (the server panics)", srv, "/mutate", h, "duplicate"},
		{"nil server", nil, "/mutate", h, "Server is nil"},
		{"nil handler", srv, "/other", nil, "handler is nil"},
		{"relative path", srv, "mutate", h, "does not start with /"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := crwebhook.Register(tt.srv, tt.path, tt.h)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

// Requests in flight are bounded by their claimed bytes: two that claim
// 3 MiB and are still sending their bodies fill the large requests' share
// (6 MiB of 8 MiB), so a third large one is answered 429 with
// Retry-After at once, while an ordinary review still passes; once one
// of the two goes away, a large request is served again.
func TestRegisterInFlightLimit(t *testing.T) {
	srv := webhook.NewServer(webhook.Options{})
	if err := crwebhook.Register(srv, "/mutate", newHandler(t, crwebhook.Config{})); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.WebhookMux())
	defer ts.Close()
	const claim = 3 << 20 // sidecarkit/admission.DefaultMaxBodyBytes
	hold := func() net.Conn {
		c, err := net.Dial("tcp", ts.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(c, "POST /mutate HTTP/1.1\r\nHost: webhook\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n{", claim)
		return c
	}
	holders := []net.Conn{hold(), hold()}
	defer func() { // before ts.Close, which waits for them
		for _, c := range holders {
			c.Close()
		}
	}()
	// A holder whose headers arrive after a large request is refused 429
	// itself (the large request holds its share meanwhile): it is dialled
	// again, so that both end up in flight.
	rehold := func() {
		for i, c := range holders {
			c.SetReadDeadline(time.Now().Add(time.Millisecond))
			if n, err := c.Read(make([]byte, 1)); n > 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
				c.Close()
				holders[i] = hold()
			}
		}
	}
	large := func() *http.Response {
		t.Helper()
		resp, err := http.Post(ts.URL+"/mutate", "application/json", bytes.NewReader(bytes.Repeat([]byte(" "), claim)))
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	// The two holders are in flight once a large request is refused.
	deadline := time.Now().Add(20 * time.Second)
	resp := large()
	for resp.StatusCode != http.StatusTooManyRequests {
		if time.Now().After(deadline) {
			t.Fatalf("a large request beside two held ones: status %d, want 429", resp.StatusCode)
		}
		time.Sleep(20 * time.Millisecond)
		rehold()
		resp = large()
	}
	if got := resp.Header.Get("Retry-After"); got != "1" {
		t.Errorf("Retry-After %q, want 1", got)
	}
	small, err := http.Post(ts.URL+"/mutate", "application/json", bytes.NewReader(reviewBody(t, readFile(t, "testdata/pod.json"))))
	if err != nil {
		t.Fatal(err)
	}
	small.Body.Close()
	if small.StatusCode != http.StatusOK {
		t.Errorf("an ordinary review beside two held large ones: status %d, want 200", small.StatusCode)
	}
	holders[0].Close()
	for resp = large(); resp.StatusCode == http.StatusTooManyRequests; resp = large() {
		if time.Now().After(deadline) {
			t.Fatal("a large request is still refused after a holder went away")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
