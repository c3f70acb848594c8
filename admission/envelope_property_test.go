package admission_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/sidecarkit/sidecarkit/admission"
	"github.com/sidecarkit/sidecarkit/compat"
	"github.com/sidecarkit/sidecarkit/internal/optioncases"
	"github.com/sidecarkit/sidecarkit/sidecar"
)

// envelopeBody is an AdmissionReview as the API server may send it, with
// every kind of JSON value in the parts Review skips (userInfo,
// oldObject, options: strings with escapes, numbers, literals, nested
// arrays) and a key written with an escape.
const envelopeBody = `{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1","request":{"uid":"7c1d0e3a-5b1f-4a53-9a7e-0d9b1b2f3c44","kind":{"group":"","version":"v1","kind":"Pod"},"resource":{"group":"","version":"v1","resource":"pods"},"requestKind":{"group":"","version":"v1","kind":"Pod"},"name":"web","namespace":"shop","operation":"CREATE","userInfo":{"username":"sy\"s\\tem:\u00e9","uid":"","groups":["a","b"],"extra":{"k":[]}},"object":{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web","namespace":"shop"},"spec":{"containers":[{"name":"app","image":"nginx","x-n":[-1.5e3,0,12,true,false,null,{}]}]}},"oldObject":null,"dryRun":false,"options":{"apiVersion":"meta.k8s.io/v1","kind":"CreateOptions","n":-0.25E+2},"\u0078-extra":[[],[{}],"]}"]}}`

func envelopeInjector(t *testing.T) *admission.Webhook {
	t.Helper()
	inj, err := admission.New(admission.Config{
		Spec: sidecar.Spec{Container: optioncases.Sidecar()},
		Capability: func(context.Context, *admission.Request) (compat.Capability, error) {
			return optioncases.NativeOrdered, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return inj
}

// spaced re-writes a compact JSON document with white space (spaces,
// tabs, newlines, carriage returns) around every structural character,
// outside strings.
func spaced(doc string, ws string) string {
	var b strings.Builder
	in := false
	for i := 0; i < len(doc); i++ {
		c := doc[i]
		if in {
			b.WriteByte(c)
			if c == '\\' {
				i++
				b.WriteByte(doc[i])
			} else if c == '"' {
				in = false
			}
			continue
		}
		switch c {
		case '"':
			in = true
			b.WriteByte(c)
		case '{', '}', '[', ']', ':', ',':
			b.WriteString(ws)
			b.WriteByte(c)
			b.WriteString(ws)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// TestEnvelopeWhiteSpace: the same review with white space anywhere JSON
// allows it gets the same answer, byte for byte.
func TestEnvelopeWhiteSpace(t *testing.T) {
	inj := envelopeInjector(t)
	want, out, err := inj.Review(context.Background(), []byte(envelopeBody))
	if err != nil {
		t.Fatal(err)
	}
	if out.Name != "web" || out.Namespace != "shop" || out.Operation != "CREATE" || out.Kind.Kind != "Pod" || out.Mode != sidecar.Native || out.Ops == 0 {
		t.Fatalf("outcome %+v", out)
	}
	for _, ws := range []string{" ", "\t", "\n", "\r\n", " \t\n "} {
		body := ws + spaced(envelopeBody, ws) + ws
		got, _, err := inj.Review(context.Background(), []byte(body))
		if err != nil {
			t.Errorf("white space %q: %v", ws, err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("white space %q: the response differs:\n%s\nwant\n%s", ws, got, want)
		}
	}
}

// TestEnvelopeTruncated: every proper prefix of a review, and the review
// followed by anything but white space, is refused as a bad request.
func TestEnvelopeTruncated(t *testing.T) {
	inj := envelopeInjector(t)
	for _, doc := range []string{envelopeBody, strings.TrimSpace(spaced(envelopeBody, " "))} {
		for i := 0; i < len(doc); i++ {
			if _, _, err := inj.Review(context.Background(), []byte(doc[:i])); err == nil {
				t.Errorf("prefix of %d bytes accepted: %q", i, doc[:i])
			}
		}
		for _, tail := range []string{"x", "{}", ",", "}", "0", "\"\""} {
			if _, _, err := inj.Review(context.Background(), []byte(doc+tail)); err == nil {
				t.Errorf("review followed by %q accepted", tail)
			}
		}
	}
}

// TestEnvelopeMalformed: structural damage anywhere, in the parts Review
// reads or in those it skips, is refused. (The skipped parts are checked
// for structure only, as readReview documents: a missing comma between
// two values of a skipped array is not caught there.)
func TestEnvelopeMalformed(t *testing.T) {
	inj := envelopeInjector(t)
	for _, c := range []struct{ from, to string }{
		{`"uid":`, `"uid" `},                     // no colon
		{`"uid":`, `"uid":,`},                    // no value
		{`,"name"`, ` "name"`},                   // no comma
		{`-1.5e3`, `-1.5e`},                      // bad number in a skipped part
		{`-1.5e3`, `--1`},                        // bad number
		{`-1.5e3`, `+1`},                         // not a value
		{`true`, `tru`},                          // bad literal
		{`null,{}`, `nul,{}`},                    // bad literal
		{`"oldObject":null`, `"oldObject":nulL`}, // bad literal
		{`{"k":[]}`, `{"k":[}`},                  // unbalanced
		{`"]}"]`, `"]}"`},                        // unbalanced after a string of brackets
		{`"\u0078-extra"`, `"\u00x8-extra"`},     // bad escape in a key
		{`{"kind":"AdmissionReview"`, `["kind","AdmissionReview"`}, // not an object
	} {
		if !strings.Contains(envelopeBody, c.from) {
			t.Fatalf("%q is not in the body", c.from)
		}
		body := strings.Replace(envelopeBody, c.from, c.to, 1)
		if _, _, err := inj.Review(context.Background(), []byte(body)); err == nil {
			t.Errorf("%q → %q: accepted", c.from, c.to)
		}
	}
	// null request and a null review are refused too, not read as empty.
	for _, body := range []string{`null`, `{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1","request":null}`, `{}`, ` { } `} {
		if _, _, err := inj.Review(context.Background(), []byte(body)); err == nil {
			t.Errorf("%s: accepted", body)
		}
	}
}

// TestEnvelopeEscapedKeys: a key written with escapes is the key it
// spells, as for encoding/json: "\u0072equest" is the request.
func TestEnvelopeEscapedKeys(t *testing.T) {
	inj := envelopeInjector(t)
	body := strings.Replace(envelopeBody, `"request":`, `"\u0072equest":`, 1)
	body = strings.Replace(body, `"uid":"7c1d`, `"u\u0069d":"7c1d`, 1)
	_, out, err := inj.Review(context.Background(), []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if out.UID != "7c1d0e3a-5b1f-4a53-9a7e-0d9b1b2f3c44" || out.Mode != sidecar.Native {
		t.Errorf("outcome %+v", out)
	}
	// A later duplicate of the request replaces its members, an earlier
	// null request is forgotten.
	body = strings.Replace(envelopeBody, `{"kind":"AdmissionReview",`, `{"request":null,"kind":"AdmissionReview",`, 1)
	if _, out, err = inj.Review(context.Background(), []byte(body)); err != nil || out.UID == "" {
		t.Errorf("null request then a request: %+v, %v", out, err)
	}
	body = strings.Replace(envelopeBody, `"apiVersion":"admission.k8s.io/v1",`, `"apiVersion":"admission.k8s.io/v1","request":{"uid":"x","name":"old"},`, 1)
	if _, out, err = inj.Review(context.Background(), []byte(body)); err != nil || out.Name != "web" || out.UID != "7c1d0e3a-5b1f-4a53-9a7e-0d9b1b2f3c44" {
		t.Errorf("a request, then another: %+v, %v", out, err)
	}
	body = strings.Replace(envelopeBody, `"apiVersion":"admission.k8s.io/v1",`, `"apiVersion":"admission.k8s.io/v1","request":{"uid":"x"},`, 1)
	body = strings.Replace(body, `"request":{"uid":"7c1d`, `"request":null,"request2":{"uid":"7c1d`, 1)
	if _, _, err = inj.Review(context.Background(), []byte(body)); err == nil || !strings.Contains(err.Error(), "has no request") {
		t.Errorf("a request, then null: %v, want 'has no request'", err)
	}
}

// TestEnvelopeErrors: each structural error is reported as itself (the
// request is refused as malformed, with what was wrong), including in
// the parts Review skips; the values JSON allows there are accepted.
func TestEnvelopeErrors(t *testing.T) {
	inj := envelopeInjector(t)
	opts := `"n":-0.25E+2`
	for _, c := range []struct{ body, want string }{
		{"  ", "want an object"},
		{"[]", "want an object"},
		{"null x", "data after the top-level value"},
		{`{1:2}`, "want a string"},
		{strings.Replace(envelopeBody, `"kind":"AdmissionReview"`, `"kind"x"AdmissionReview"`, 1), "want ':' after an object key"},
		{strings.Replace(envelopeBody, `"name":"web"`, `"name"x"web"`, 1), "want ':' after an object key"}, // the request is read in place
		{strings.Replace(envelopeBody, `"userInfo":{`, `"userInfo":{"x"x`, 1), "invalid character 'x'"},    // skipped
		{strings.Replace(envelopeBody, `"kind":"AdmissionReview"`, `"kind":x`, 1), "looking for a value"},
		{strings.Replace(envelopeBody, opts, `"n":-0.25E+`, 1), "invalid number"},
		{strings.Replace(envelopeBody, opts, `"n":x`, 1), "invalid character 'x'"},
		{strings.Replace(envelopeBody, opts, `"n":[1}`, 1), "mismatched"},
		{strings.Replace(envelopeBody, opts, `"n":["a`+"\t"+`b"]`, 1), "control character in a string"},
		{strings.Replace(envelopeBody, opts, `"n":"a`+"\x01"+`b"`, 1), "control character in a string"},
	} {
		_, _, err := inj.Review(context.Background(), []byte(c.body))
		if err == nil || !strings.Contains(err.Error(), "malformed") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%.60q: error %v, want a malformed request: %s", c.body, err, c.want)
		}
	}
	for _, ok := range []string{`"n":9`, `"n":19`, `"n":[0,9,-9.5e-9]`, `"n":"a b ~"`, `"n":{"a":[{}],"b":"]"}`} {
		// In a skipped part, and as a top-level member of its own.
		for _, body := range []string{
			strings.Replace(envelopeBody, opts, ok, 1),
			strings.Replace(envelopeBody, `{"kind":"AdmissionReview",`, `{`+ok+`,"kind":"AdmissionReview",`, 1),
		} {
			if _, _, err := inj.Review(context.Background(), []byte(body)); err != nil {
				t.Errorf("%s: %v", ok, err)
			}
		}
	}
}
