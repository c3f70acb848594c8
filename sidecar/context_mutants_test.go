package sidecar_test

import (
	"context"
	"errors"
	"strconv"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sidecarkit/sidecarkit/sidecar"
)

// countingCtx counts the looks Inject takes at it, and reports that it
// ended from look number endAt on (never when endAt is 0).
type countingCtx struct {
	context.Context
	looks, endAt int
}

func (c *countingCtx) Err() error {
	c.looks++
	if c.endAt > 0 && c.looks >= c.endAt {
		return context.Canceled
	}
	return nil
}

// wide is a Pod of n application containers.
func wide(n int) *corev1.PodSpec {
	spec := &corev1.PodSpec{Containers: make([]corev1.Container, n)}
	for i := range spec.Containers {
		spec.Containers[i] = corev1.Container{Name: "c" + strconv.Itoa(i), Image: "app"}
	}
	return spec
}

// An Injector bounds its work by its context: it looks at it once every
// 1024 application containers (and every 1024 containers a record
// claims), and stops at the first look that finds it ended.
func TestInjectLooksAtItsContext(t *testing.T) {
	s := sidecar.Spec{
		Container: corev1.Container{Name: "proxy", Image: "p:1"},
		AppEnv:    []corev1.EnvVar{{Name: "PROXY", Value: "1"}},
	}
	in, err := sidecar.NewInjector(s)
	if err != nil {
		t.Fatal(err)
	}
	// A record claiming many containers the plan does not have (and the
	// pod does not either): walked with looks too.
	claims := map[string]string{}
	for i := 0; i < 2500; i++ {
		claims["proxy-"+strconv.Itoa(i)] = "0123456789abcdef"
	}
	forged := sidecar.Record{Version: 2, Mode: sidecar.Legacy, Containers: claims}
	for _, tc := range []struct {
		name  string
		meta  *metav1.ObjectMeta
		spec  *corev1.PodSpec
		opts  sidecar.Options
		looks int // when the context never ends
	}{
		// The first look, one per 1024 application containers, the last.
		{"few containers", nil, wide(3), sidecar.Options{Mode: sidecar.Native}, 2},
		{"1023 containers", nil, wide(1023), sidecar.Options{Mode: sidecar.Native}, 2},
		{"1024 containers", nil, wide(1024), sidecar.Options{Mode: sidecar.Native}, 3},
		{"2500 containers", nil, wide(2500), sidecar.Options{Mode: sidecar.Native}, 4},
		// One more for the in-place updates.
		{"2500 containers to update", &metav1.ObjectMeta{}, nil, sidecar.Options{Mode: sidecar.Native}, 5},
		// The record's 2500 claims (one look per 1024), then the pod.
		{"a record of 2500 claims", &metav1.ObjectMeta{Annotations: map[string]string{sidecar.Annotation("proxy"): string(mustJSON(t, forged))}}, wide(3),
			sidecar.Options{Mode: sidecar.Native}, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			meta, spec := tc.meta, tc.spec
			if spec == nil {
				// An injected pod whose app env is an older Spec's.
				old := s
				old.AppEnv = []corev1.EnvVar{{Name: "PROXY", Value: "0"}}
				res, err := sidecar.Inject(&metav1.ObjectMeta{}, wide(2500), old, native, tc.opts)
				if err != nil {
					t.Fatal(err)
				}
				meta, spec = res.Mutation.Result()
			}
			ctx := &countingCtx{Context: context.Background()}
			res, err := in.Inject(ctx, meta, spec, native, tc.opts)
			if err != nil || res.Mutation.Empty() {
				t.Fatalf("Inject: %v (empty %v)", err, res.Mutation != nil && res.Mutation.Empty())
			}
			if ctx.looks != tc.looks {
				t.Errorf("%d looks at the context, want %d", ctx.looks, tc.looks)
			}
			for end := 1; end <= tc.looks; end++ {
				ctx := &countingCtx{Context: context.Background(), endAt: end}
				_, err := in.Inject(ctx, meta, spec, native, tc.opts)
				if !errors.Is(err, context.Canceled) {
					t.Errorf("context ended at look %d: err = %v, want context.Canceled", end, err)
				}
				if ctx.looks != end {
					t.Errorf("context ended at look %d: %d looks; want Inject to stop at the first that sees it", end, ctx.looks)
				}
			}
		})
	}
}

// A nil context is the background one; a nil pod spec is an error.
func TestInjectorNilArguments(t *testing.T) {
	in, err := sidecar.NewInjector(sidecar.Spec{Container: corev1.Container{Name: "proxy", Image: "p:1"}})
	if err != nil {
		t.Fatal(err)
	}
	//nolint:staticcheck // a nil context is documented to mean Background
	if res, err := in.Inject(nil, nil, wide(1), native, sidecar.Options{}); err != nil || res.Mode != sidecar.Native {
		t.Errorf("Inject(nil ctx) = %s, %v", res.Mode, err)
	}
	if _, err := in.Inject(context.Background(), nil, nil, native, sidecar.Options{}); err == nil || err.Error() != "sidecar: inject: nil pod spec" {
		t.Errorf("Injector.Inject(nil spec): %v", err)
	}
	if _, err := sidecar.Inject(nil, nil, in.Spec(), native, sidecar.Options{}); err == nil || err.Error() != "sidecar: inject: nil pod spec" {
		t.Errorf("Inject(nil spec): %v", err)
	}
	if _, err := sidecar.Inject(nil, wide(1), sidecar.Spec{}, native, sidecar.Options{}); err == nil || err.Error() != "sidecar: inject: [sidecar.container.name: Required value: the sidecar needs a name, sidecar.container.image: Required value: the sidecar needs an image]" {
		t.Errorf("Inject(invalid spec): %v", err)
	}
}
