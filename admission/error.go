package admission

import (
	"errors"
	"net/http"
)

// The categories of [Error], for errors.Is.
var (
	// ErrBadRequest: the body is not an AdmissionReview v1 this package
	// can answer (HTTP 400).
	ErrBadRequest = errors.New("admission: bad request")
	// ErrInternal: the review could not be answered, for example because
	// the capability source failed (HTTP 500).
	ErrInternal = errors.New("admission: internal error")
)

// Error is a review that got no AdmissionReview response. Status is the
// HTTP status to answer with; Err says what went wrong.
type Error struct {
	Status int
	Err    error
}

func (e *Error) Error() string { return e.Err.Error() }

// Unwrap returns Err.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is the category of e's Status.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrBadRequest:
		return e.Status == http.StatusBadRequest
	case ErrInternal:
		return e.Status == http.StatusInternalServerError
	}
	return false
}

func badRequest(err error) *Error { return &Error{Status: http.StatusBadRequest, Err: err} }

func internal(err error) *Error { return &Error{Status: http.StatusInternalServerError, Err: err} }
