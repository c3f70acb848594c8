package celcheck

import (
	"fmt"
	"os"
	"testing"

	celgo "github.com/google/cel-go/cel"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	"k8s.io/apimachinery/pkg/util/version"
	plugincel "k8s.io/apiserver/pkg/admission/plugin/cel"
	"k8s.io/apiserver/pkg/admission/plugin/policy/mutating/patch"
	"k8s.io/apiserver/pkg/admission/plugin/policy/validating"
	"k8s.io/apiserver/pkg/admission/plugin/webhook/matchconditions"
	"k8s.io/apiserver/pkg/cel/environment"

	"github.com/sidecarkit/sidecarkit/policy"
	"github.com/sidecarkit/sidecarkit/sidecar"
)

// variable is a policy variable for the compiler.
type variable struct{ name, expr string }

func (v variable) GetExpression() string      { return v.expr }
func (v variable) ReturnTypes() []*celgo.Type { return []*celgo.Type{celgo.AnyType} }
func (v variable) GetName() string            { return v.name }

// versions are the CEL compatibility versions the policies must compile
// at: an API server n validates new expressions against n-1
// (environment.DefaultCompatibilityVersion), so 1.33 is what a 1.34 server
// (v1beta1) accepts, 1.35 a 1.36 one (v1), and the library's own version
// (1.37 for k8s.io/apiserver v0.37.2) the newest.
var versions = []*version.Version{version.MajorMinor(1, 33), version.MajorMinor(1, 35), environment.DefaultCompatibilityVersion()}

// specs are the sidecars compiled: the e2e tests' proxy, and one with
// every kind of value (ports, an httpGet probe on a named port, env from a
// field, a configMap volume, a security context, placement by name).
var specs = map[string]string{
	"proxy": "../testdata/proxy.yaml",
	"full":  "testdata/full.yaml",
}

func TestPoliciesCompile(t *testing.T) {
	for name, path := range specs {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		s, err := sidecar.LoadSpec(b)
		if err != nil {
			t.Fatal(err)
		}
		for _, mode := range []sidecar.Mode{sidecar.Native, sidecar.Legacy, sidecar.Pinned} {
			set, err := policy.Compile(s, policy.Options{Mode: mode, Workloads: true})
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range versions {
				t.Run(fmt.Sprintf("%s/%s/%s", name, mode, v), func(t *testing.T) {
					for _, m := range set.Mutating {
						checkMutating(t, v, m)
					}
					for _, p := range set.Validating {
						checkValidating(t, v, p)
					}
				})
			}
		}
	}
}

func compiler(t *testing.T, v *version.Version) *plugincel.CompositedCompiler {
	t.Helper()
	c, err := plugincel.NewCompositedCompiler(environment.MustBaseEnvSet(v))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// checkMutating compiles a mutating policy as the API server's
// MutatingAdmissionPolicy plugin does (k8s.io/apiserver
// pkg/admission/plugin/policy/mutating/compilation.go), in the
// environment of new expressions (what a create is validated against).
func checkMutating(t *testing.T, v *version.Version, p *admissionregistrationv1.MutatingAdmissionPolicy) {
	t.Helper()
	c := compiler(t, v)
	opts := plugincel.OptionalVariableDeclarations{HasAuthorizer: true}
	for _, x := range p.Spec.Variables {
		if r := c.CompileAndStoreVariable(variable{x.Name, x.Expression}, opts, environment.NewExpressions); r.Error != nil {
			t.Errorf("%s: variable %s: %v", p.Name, x.Name, r.Error)
		}
	}
	conds := make([]plugincel.ExpressionAccessor, len(p.Spec.MatchConditions))
	for i := range p.Spec.MatchConditions {
		conds[i] = (*matchconditions.MatchCondition)(&p.Spec.MatchConditions[i])
	}
	for _, err := range c.CompileCondition(conds, opts, environment.NewExpressions).CompilationErrors() {
		t.Errorf("%s: matchConditions: %v", p.Name, err)
	}
	opts.HasPatchTypes = true
	for i, m := range p.Spec.Mutations {
		e := c.CompileMutatingEvaluator(&patch.JSONPatchCondition{Expression: m.JSONPatch.Expression}, opts, environment.NewExpressions)
		for _, err := range e.CompilationErrors() {
			t.Errorf("%s: mutations[%d]: %v", p.Name, i, err)
		}
	}
}

// checkValidating compiles a validating policy's variables, match
// conditions and validations as the ValidatingAdmissionPolicy plugin does
// (pkg/admission/plugin/policy/validating/plugin.go).
func checkValidating(t *testing.T, v *version.Version, p *admissionregistrationv1.ValidatingAdmissionPolicy) {
	t.Helper()
	c := compiler(t, v)
	opts := plugincel.OptionalVariableDeclarations{HasAuthorizer: true}
	for _, x := range p.Spec.Variables {
		if r := c.CompileAndStoreVariable(variable{x.Name, x.Expression}, opts, environment.NewExpressions); r.Error != nil {
			t.Errorf("%s: variable %s: %v", p.Name, x.Name, r.Error)
		}
	}
	conds := make([]plugincel.ExpressionAccessor, len(p.Spec.MatchConditions))
	for i := range p.Spec.MatchConditions {
		conds[i] = (*matchconditions.MatchCondition)(&p.Spec.MatchConditions[i])
	}
	for _, err := range c.CompileCondition(conds, opts, environment.NewExpressions).CompilationErrors() {
		t.Errorf("%s: matchConditions: %v", p.Name, err)
	}
	vals := make([]plugincel.ExpressionAccessor, len(p.Spec.Validations))
	for i := range p.Spec.Validations {
		vals[i] = &validating.ValidationCondition{Expression: p.Spec.Validations[i].Expression}
	}
	for _, err := range c.CompileCondition(vals, opts, environment.NewExpressions).CompilationErrors() {
		t.Errorf("%s: validations: %v", p.Name, err)
	}
}

// TestCheckerCatches: the check is not vacuous; an expression the API
// server would refuse fails it.
func TestCheckerCatches(t *testing.T) {
	c := compiler(t, environment.DefaultCompatibilityVersion())
	opts := plugincel.OptionalVariableDeclarations{HasAuthorizer: true, HasPatchTypes: true}
	for _, expr := range []string{
		`[JSONPatch{op: "add", path: "/spec/x", value: quantity("1").isEqualTo(quantity("1"))}]`, // no such function
		`object.spec.containers.transformList(i, c, i)`,                                          // not a list of JSONPatch
		`[JSONPatch{op: "add", path: 1}]`,                                                        // path is a string
	} {
		e := c.CompileMutatingEvaluator(&patch.JSONPatchCondition{Expression: expr}, opts, environment.NewExpressions)
		if len(e.CompilationErrors()) == 0 {
			t.Errorf("%s: compiled, want an error", expr)
		}
	}
}
