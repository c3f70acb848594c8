// Package compat describes what a node and an API server do with native
// sidecar containers (init containers with restartPolicy Always).
package compat
