package compat

// OldestKubelet is oldestKubelet, for the skew-policy tests.
var OldestKubelet = oldestKubelet

// MaxMetricsLine is maxMetricsLine, for the overlong-line tests.
const MaxMetricsLine = maxMetricsLine

// ErrLineTooLong is errLineTooLong, for the overlong-line tests.
var ErrLineTooLong = errLineTooLong
