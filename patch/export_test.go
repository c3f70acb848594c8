package patch

// Len returns the number of edits recorded, for tests that check a failed
// edit records nothing.
func (m *Mutation) Len() int { return len(m.edits) }

// FieldPath is fieldPath, for the root tests.
func (r Root) FieldPath() string { return r.fieldPath() }
