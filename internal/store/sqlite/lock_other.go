//go:build !unix

package sqlite

import "os"

// lockFile: no advisory lock where flock is missing; one process per
// database is then the operator's to ensure.
func lockFile(abs string) (*os.File, error) { return nil, nil }
