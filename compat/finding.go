package compat

import "fmt"

// Severity ranks a [Finding].
type Severity int

// The severities. Info is the zero value.
const (
	SeverityInfo Severity = iota
	SeverityWarning
	SeverityError
)

func severityNames() []string {
	return []string{"info", "warning", "error"}
}

// String returns "info", "warning" or "error".
func (s Severity) String() string { return enumString(severityNames(), int(s), "Severity") }

// MarshalText encodes s as its String form.
func (s Severity) MarshalText() ([]byte, error) {
	return enumMarshal(severityNames(), int(s), "Severity")
}

// UnmarshalText decodes the String form.
func (s *Severity) UnmarshalText(b []byte) error {
	return enumUnmarshal(severityNames(), b, "Severity", (*int)(s))
}

// Finding is one result of [Diagnose].
type Finding struct {
	// Code says what the finding is about; see the Code constants.
	Code Code `json:"code"`
	// Severity ranks it: Error for a Pod that cannot work as intended,
	// Warning for a likely problem, Info for context.
	Severity Severity `json:"severity"`
	// Path is the field the finding is about, like
	// "spec.initContainers[1].restartPolicy"; "" for the cluster or node.
	Path string `json:"path,omitempty"`
	// Message says what was found and from which evidence.
	Message string `json:"message"`
	// Fix suggests what to do.
	Fix string `json:"fix,omitempty"`
}

// String formats f on one line: "error field-dropped spec.x: message".
func (f Finding) String() string {
	if f.Path == "" {
		return fmt.Sprintf("%s %s: %s", f.Severity, f.Code, f.Message)
	}
	return fmt.Sprintf("%s %s %s: %s", f.Severity, f.Code, f.Path, f.Message)
}
