package admission_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/sidecarkit/sidecarkit/admission"
)

func TestHandler(t *testing.T) {
	type observed struct {
		status int
		uid    string
		err    bool
	}
	var mu sync.Mutex
	var seen []observed
	h := &admission.Handler{
		Webhook:      newWebhook(t, admission.Config{Capability: staticCap(nativeCap)}),
		MaxBodyBytes: 64 << 10,
		Observe: func(_ *http.Request, status int, o admission.Outcome, err error) {
			mu.Lock()
			defer mu.Unlock()
			seen = append(seen, observed{status, o.UID, err != nil})
		},
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	good := review(t, req{uid: "good"})
	big := review(t, req{object: strings.Replace(podJSON, `"x-top":"kept"`, `"x-top":"`+strings.Repeat("x", 70<<10)+`"`, 1)})
	for _, tc := range []struct {
		name, method, ctype string
		body                []byte
		chunked             bool
		status              int
		want                string
	}{
		{name: "ok", body: good, status: 200, want: `"uid":"good","allowed":true,"patch":`},
		{name: "charset parameter", ctype: "application/json; charset=utf-8", body: good, status: 200, want: `"allowed":true`},
		{name: "GET", method: http.MethodGet, status: 405, want: "admission: method GET not allowed; use POST"},
		{name: "no content type", ctype: "-", body: good, status: 415, want: `admission: content type "" not supported; want application/json`},
		{name: "yaml", ctype: "application/yaml", body: good, status: 415, want: `content type "application/yaml" not supported`},
		{name: "empty", body: []byte{}, status: 400, want: "admission: empty body"},
		{name: "malformed", body: []byte(`{"apiVersion":`), status: 400, want: "admission: malformed AdmissionReview"},
		{name: "oversize by length", body: big, status: 413, want: "exceeds the limit of 65536 bytes"},
		{name: "oversize chunked", body: big, chunked: true, status: 413, want: "admission: body exceeds the limit of 65536 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			method := tc.method
			if method == "" {
				method = http.MethodPost
			}
			var body io.Reader = bytes.NewReader(tc.body)
			if tc.chunked {
				body = io.MultiReader(body) // no length: sent chunked
			}
			r, err := http.NewRequest(method, srv.URL, body)
			if err != nil {
				t.Fatal(err)
			}
			switch tc.ctype {
			case "":
				r.Header.Set("Content-Type", "application/json")
			case "-":
			default:
				r.Header.Set("Content-Type", tc.ctype)
			}
			resp, err := srv.Client().Do(r)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			got, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.status || !strings.Contains(string(got), tc.want) {
				t.Errorf("got %d %q, want %d containing %q", resp.StatusCode, got, tc.status, tc.want)
			}
			wantType := "application/json"
			if tc.status != 200 {
				wantType = "text/plain; charset=utf-8"
			}
			if ct := resp.Header.Get("Content-Type"); ct != wantType {
				t.Errorf("Content-Type %q, want %q", ct, wantType)
			}
			if tc.status == 405 && resp.Header.Get("Allow") != "POST" {
				t.Errorf("405 without Allow: POST")
			}
		})
	}
	// Observe runs once the response is delivered, which may be after the
	// client has read it: Close waits for the handlers to return.
	srv.Close()
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 9 || seen[0] != (observed{200, "good", false}) || seen[2] != (observed{405, "", true}) {
		t.Errorf("Observe saw %+v", seen)
	}
}

// A Handler without a Webhook answers 500 rather than panicking.
func TestHandlerNoInjector(t *testing.T) {
	rec := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader("{}"))
	r.Header.Set("Content-Type", "application/json")
	(&admission.Handler{}).ServeHTTP(rec, r)
	if rec.Code != 500 || !strings.Contains(rec.Body.String(), "no Webhook") {
		t.Errorf("got %d %q", rec.Code, rec.Body)
	}
}
