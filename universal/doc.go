// Package universal injects a sidecar as a native and legacy pair and
// decides at run time which of the two twins acts.
package universal
