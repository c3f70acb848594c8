// Package cputime reads the CPU time the process has used, for benchmarks
// that report it next to wall time: on a machine shared with other work,
// time spent waiting for a CPU inflates wall time but not CPU time.
package cputime

import "time"

// Process returns the user and system CPU time of the process (all its
// threads, the garbage collector's included), and false where the
// platform does not tell.
func Process() (time.Duration, bool) { return process() }
