package main

import (
	"flag"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/sidecarkit/sidecarkit/examples/operator/injector"
	"github.com/sidecarkit/sidecarkit/sidecar"
)

func parse(t *testing.T, args ...string) (*settings, error) {
	t.Helper()
	fs := flag.NewFlagSet("operator", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	c := bindFlags(fs)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	return c.settings(func(name string) ([]byte, error) {
		if name == "missing.yaml" {
			return nil, os.ErrNotExist
		}
		return os.ReadFile("../testdata/" + name)
	})
}

func TestSettings(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr string // substring; "" means valid
		check   func(t *testing.T, s *settings)
	}{
		{name: "defaults need a sidecar", wantErr: "--sidecar is required"},
		{name: "labeler alone", args: []string{"--controllers=labeler", "--node-metrics"}, check: func(t *testing.T, s *settings) {
			if !s.labeler || s.injector || s.webhook {
				t.Errorf("controllers = %+v", s)
			}
		}},
		{name: "defaults", args: []string{"--sidecar=sidecar.yaml"}, check: func(t *testing.T, s *settings) {
			if !s.labeler || !s.injector || s.webhook {
				t.Errorf("controllers: %v %v %v", s.labeler, s.injector, s.webhook)
			}
			if s.spec.Container.Name != "proxy" || s.options.Mode != sidecar.Auto || s.options.Fallback != sidecar.Legacy || s.options.Universal != nil {
				t.Errorf("spec/options = %s %+v", s.spec.Container.Name, s.options)
			}
			if s.selector.String() != "sidecarkit.io/inject=true" || s.patch != injector.StrategicMerge {
				t.Errorf("selector %q, patch %q", s.selector, s.patch)
			}
			if strings.Join(s.kinds, ",") != "Deployment,StatefulSet,DaemonSet,CronJob,ReplicaSet,Job" {
				t.Errorf("kinds = %v", s.kinds)
			}
			if s.keepOnOptOut {
				t.Errorf("keepOnOptOut by default: opting out must remove the sidecar")
			}
		}},
		{name: "keep on opt-out", args: []string{"--sidecar=sidecar.yaml", "--keep-on-opt-out"}, check: func(t *testing.T, s *settings) {
			if !s.keepOnOptOut {
				t.Errorf("--keep-on-opt-out not set")
			}
		}},
		{name: "plain container spec, json, pinned", args: []string{"--sidecar=sidecar-container.yaml", "--patch-type=json", "--allow-pinned", "--kinds=CronJob", "--opt-in=team in (a,b)"},
			check: func(t *testing.T, s *settings) {
				if s.patch != injector.JSONPatch || !s.options.AllowPinned || strings.Join(s.kinds, ",") != "CronJob" || s.selector.String() != "team in (a,b)" {
					t.Errorf("settings = %+v", s)
				}
			}},
		{name: "universal", args: []string{"--sidecar=sidecar.yaml", "--mode=universal", "--handshake=/bin/hs run"},
			check: func(t *testing.T, s *settings) {
				if s.options.Mode != sidecar.Universal || s.options.Universal == nil {
					t.Errorf("options = %+v", s.options)
				}
			}},
		{name: "universal without runner", args: []string{"--sidecar=sidecar.yaml", "--mode=universal"}, wantErr: "needs --handshake"},
		{name: "both runners", args: []string{"--sidecar=sidecar.yaml", "--handshake=a", "--handshake-image=b"}, wantErr: "exclude each other"},
		{name: "unknown controller", args: []string{"--controllers=labeler,nope"}, wantErr: `unknown controller "nope"`},
		{name: "nothing", args: []string{"--controllers=,"}, wantErr: "nothing to run"},
		{name: "metrics without labeler", args: []string{"--controllers=webhook", "--sidecar=sidecar.yaml", "--node-metrics"}, wantErr: "needs the labeler"},
		{name: "missing sidecar file", args: []string{"--sidecar=missing.yaml"}, wantErr: "--sidecar: file does not exist"},
		{name: "bad mode", args: []string{"--sidecar=sidecar.yaml", "--mode=sometimes"}, wantErr: "--mode"},
		{name: "auto fallback", args: []string{"--sidecar=sidecar.yaml", "--fallback=auto"}, wantErr: "--fallback"},
		{name: "empty selector", args: []string{"--sidecar=sidecar.yaml", "--opt-in="}, wantErr: "empty selector"},
		{name: "bad selector", args: []string{"--sidecar=sidecar.yaml", "--opt-in=a in b"}, wantErr: "--opt-in"},
		{name: "unknown kind", args: []string{"--sidecar=sidecar.yaml", "--kinds=Job,Pod"}, wantErr: `unknown kind "Pod"`},
		{name: "bad patch type", args: []string{"--sidecar=sidecar.yaml", "--patch-type=merge"}, wantErr: "--patch-type"},
		{name: "repair alone", args: []string{"--controllers=labeler", "--repair=restart", "--sidecar=sidecar.yaml", "--repair-pods=tier=web"}, check: func(t *testing.T, s *settings) {
			if !s.repair || !s.repairRestart || s.repairNamespaces.String() != "sidecarkit.io/inject=enabled" || s.repairPods.String() != "tier=web" || s.spec.Container.Name != "proxy" {
				t.Errorf("repair settings: %+v", s)
			}
		}},
		{name: "repair report", args: []string{"--sidecar=sidecar.yaml", "--repair=report"}, check: func(t *testing.T, s *settings) {
			if !s.repair || s.repairRestart {
				t.Errorf("repair %v restart %v", s.repair, s.repairRestart)
			}
		}},
		{name: "repair needs the sidecar", args: []string{"--controllers=labeler", "--repair=report"}, wantErr: "--sidecar is required"},
		{name: "bad repair", args: []string{"--sidecar=sidecar.yaml", "--repair=sometimes"}, wantErr: "--repair \"sometimes\""},
		{name: "repair in every namespace", args: []string{"--sidecar=sidecar.yaml", "--repair=report", "--repair-namespaces="}, wantErr: "--repair-namespaces: an empty selector"},
		{name: "negative cooldown", args: []string{"--sidecar=sidecar.yaml", "--repair-cooldown=-1s"}, wantErr: "must not be negative"},
		{name: "in-place upgrade needs the sidecar", args: []string{"--controllers=labeler", "--inplace-upgrade"}, wantErr: "--sidecar is required"},
		{name: "in-place budget", args: []string{"--sidecar=sidecar.yaml", "--inplace-upgrade", "--inplace-max-unavailable=0"}, wantErr: "--inplace-max-unavailable must be at least 1"},
		{name: "webhook only ignores injector flags", args: []string{"--controllers=webhook", "--sidecar=sidecar.yaml", "--kinds=Job"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := parse(t, tt.args...)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("err = %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
			}
			if tt.check != nil {
				tt.check(t, s)
			}
		})
	}
}

func TestSettingsJoinsErrors(t *testing.T) {
	_, err := parse(t, "--controllers=injector,bogus", "--mode=x", "--patch-type=y")
	if err == nil {
		t.Fatal("no error")
	}
	var n int
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		n = len(j.Unwrap())
	}
	if n != 4 {
		t.Errorf("%d errors, want 4 (controller, sidecar, mode, patch type): %v", n, err)
	}
}
