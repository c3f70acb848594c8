// Package bench measures sidecarkit against the unit of a typed decode and
// against the patch producers webhooks use today, on the same mutation: a
// native sidecar at initContainers[0], an emptyDir volume, a mount of it in
// every regular container, and the injection record annotation.
//
// It is a module of its own so that the peer libraries (gomodules.xyz
// jsonpatch, wI2L/jsondiff, strategicpatch) never enter the library's
// go.mod. The paths are plain functions ([Paths]) shared by the
// benchmarks, the quality checks of the tests, the report command
// (cmd/report, which writes the table of README.md) and the loopback load
// test (cmd/load).
package bench
