// A mutating webhook built against k8s.io/api v0.27, the last release whose
// Container type has no restartPolicy: it re-encodes the Pod it admits and so
// strips the native sidecar's restartPolicy: Always, as outdated webhooks do
// (docs/field-stripping.md#webhooks-built-with-old-client-libraries). Its own
// module: nothing else may raise k8s.io/api.
module github.com/sidecarkit/sidecarkit/e2e/stripwebhook

go 1.20

require (
	k8s.io/api v0.27.16
	k8s.io/apimachinery v0.27.16
)

require (
	github.com/go-logr/logr v1.2.3 // indirect
	github.com/gogo/protobuf v1.3.2 // indirect
	github.com/google/gofuzz v1.1.0 // indirect
	github.com/json-iterator/go v1.1.12 // indirect
	github.com/modern-go/concurrent v0.0.0-20180306012644-bacd9c7ef1dd // indirect
	github.com/modern-go/reflect2 v1.0.2 // indirect
	golang.org/x/net v0.23.0 // indirect
	golang.org/x/text v0.14.0 // indirect
	gopkg.in/inf.v0 v0.9.1 // indirect
	gopkg.in/yaml.v2 v2.4.0 // indirect
	k8s.io/klog/v2 v2.90.1 // indirect
	k8s.io/utils v0.0.0-20230209194617-a36077c30491 // indirect
	sigs.k8s.io/json v0.0.0-20221116044647-bc3834ca7abd // indirect
	sigs.k8s.io/structured-merge-diff/v4 v4.2.3 // indirect
)
