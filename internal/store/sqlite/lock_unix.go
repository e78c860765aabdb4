//go:build unix

package sqlite

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// lockFile takes the exclusive lock of the database at abs without
// waiting (ErrLocked when another process holds it); closing the file
// releases it.
func lockFile(abs string) (*os.File, error) {
	f, err := os.OpenFile(lockPath(abs), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("sqlite: opening lock file: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, ErrLocked
		}
		return nil, fmt.Errorf("sqlite: locking %s: %w", lockPath(abs), err)
	}
	return f, nil
}
