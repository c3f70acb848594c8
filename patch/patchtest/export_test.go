package patchtest

// The sentinel errors the tests look for.
var (
	ErrApply           = errApply
	ErrUnsupportedKind = errUnsupportedKind
)
