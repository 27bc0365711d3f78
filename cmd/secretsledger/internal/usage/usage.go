package usage

import "fmt"

// Error is an error the operator fixes before retrying.
type Error struct{ Err error }

func (e Error) Error() string { return e.Err.Error() }
func (e Error) Unwrap() error { return e.Err }

// Errorf is fmt.Errorf marked as a usage error.
func Errorf(format string, args ...any) error { return Error{Err: fmt.Errorf(format, args...)} }

// Wrap marks err as a usage error; nil stays nil.
func Wrap(err error) error {
	if err == nil {
		return nil
	}
	return Error{Err: err}
}

// InvalidConfig is the usage error of a configuration that does not validate.
func InvalidConfig(err error) error { return Errorf("invalid configuration:\n%w", err) }
