package config

import (
	"errors"
	"fmt"
	"strconv"
)

// ErrInvalid is wrapped by every error Parse and Load return for a file that
// was read but is not a valid configuration.
var ErrInvalid = errors.New("invalid configuration")

// FieldError is one problem in a configuration file. Parse returns all of
// them joined; use errors.As to get at one.
type FieldError struct {
	File string // File is the name passed to Parse (the path for Load).
	Line int    // Line is 1-based; 0 when unknown.
	Path string // Path is the key path such as "numbers[0].forward_to"; empty for document-level problems.
	Msg  string // Msg says what is wrong, such as `"abc" is not a phone number`.
}

// Error formats the problem as "FILE:LINE: PATH: MSG", the shape editors and
// terminals recognise as a jump-to location.
func (e *FieldError) Error() string {
	loc := e.File
	if e.Line > 0 {
		loc += ":" + strconv.Itoa(e.Line)
	}
	if e.Path == "" {
		return loc + ": " + e.Msg
	}
	return loc + ": " + e.Path + ": " + e.Msg
}

// joinProblems wraps all problems in one error that satisfies
// errors.Is(err, ErrInvalid) and errors.As(err, **FieldError).
func joinProblems(errs []error) error {
	noun := "problems"
	if len(errs) == 1 {
		noun = "problem"
	}
	return fmt.Errorf("%w (%d %s):\n%w", ErrInvalid, len(errs), noun, errors.Join(errs...))
}
