// Package hostile attacks the examples/webhook binary, built and run as a
// process of its own, the way a network peer could: floods of requests that
// claim the largest body and send one byte (HTTP/1.1 connections and HTTP/2
// streams), bodies sent slowly, many maximal reviews at once, and clients
// that hang up during their review. During each attack it sends a small,
// legitimate review every quarter second and requires each to be answered
// 200 within a second; afterwards it reads the process's peak resident
// memory (VmHWM in /proc/PID/status) and requires it under a bound: 100 MiB
// for the floods and slow bodies, 160 MiB while maximal reviews are
// answered (the shipped Deployment's limit is 256 MiB).
//
// It runs only when asked (SIDECARKIT_HOSTILE=1; see e2e/README.md), on
// Linux. SIDECARKIT_HOSTILE_WEBHOOK names a webhook binary to attack
// instead of building examples/webhook (for example an older one, to
// compare).
package hostile
