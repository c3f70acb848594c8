// Package oracle holds tests that check sidecarkit against the code it
// mirrors: newer Kubernetes modules and peer libraries that must never enter
// the library's go.mod. Each directory checks one thing; they run with
// `go test ./...` in this module, which .ci/run does.
package oracle
