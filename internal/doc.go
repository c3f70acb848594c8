// Package internal holds small single-purpose helpers shared by the
// sidecarkit packages. Nothing outside this module may import them.
package internal
