package seal

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
)

// maxKeyFileSize bounds what LoadKeyFile reads; a key is 45 bytes.
const maxKeyFileSize = 4096

// unsafeModeBits are the permission bits a key file must not have: any
// access for others, and group write or execute. Group read is allowed
// because Kubernetes adds it to Secret volume files when the pod sets
// fsGroup (defaultMode 0400 becomes 0440).
const unsafeModeBits fs.FileMode = 0o037

// LoadKeyFile reads a key written by LoadOrCreateKeyFile (or by hand, in
// any form ParseKey accepts). It refuses a file that is not a regular file
// (symbolic links are followed) or whose mode gives others any access or the
// group write access: chmod 600 (or 400/440/640) fixes that. The permission
// check is skipped on Windows.
func LoadKeyFile(path string) (Key, error) {
	f, err := os.Open(path)
	if err != nil {
		return Key{}, fmt.Errorf("seal: opening key file: %w", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return Key{}, fmt.Errorf("seal: key file %s: %w", path, err)
	}
	if !info.Mode().IsRegular() {
		return Key{}, fmt.Errorf("seal: key file %s is not a regular file", path)
	}
	if perm := info.Mode().Perm(); runtime.GOOS != "windows" && perm&unsafeModeBits != 0 {
		return Key{}, fmt.Errorf("seal: key file %s has mode %04o, which lets other users read or change it; run chmod 600 %s",
			path, perm, path)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxKeyFileSize+1))
	if err != nil {
		return Key{}, fmt.Errorf("seal: reading key file %s: %w", path, err)
	}
	if len(b) > maxKeyFileSize {
		return Key{}, fmt.Errorf("seal: key file %s is larger than %d bytes", path, maxKeyFileSize)
	}
	k, err := ParseKey(string(b))
	if err != nil {
		return Key{}, fmt.Errorf("seal: key file %s: %w", path, err)
	}
	return k, nil
}

// LoadOrCreateKeyFile loads the key at path or, when there is no file
// there, creates a new random key and writes it there in base64 with mode
// 0600, creating missing parent directories with mode 0700 (existing ones
// are left as they are). created reports whether the key is new.
//
// The file appears with its full content or not at all: the key is written
// to a temporary file in the same directory and hard-linked into place, so
// two processes starting together end up with the same key. On file systems
// without hard links it falls back to an exclusive create.
func LoadOrCreateKeyFile(path string) (key Key, created bool, err error) {
	key, err = LoadKeyFile(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return key, false, err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return Key{}, false, fmt.Errorf("seal: creating key directory: %w", err)
	}
	key, err = NewKey()
	if err != nil {
		return Key{}, false, err
	}
	content := []byte(key.Encode() + "\n")
	err = writeLinked(path, content)
	if errors.Is(err, fs.ErrExist) {
		// Another process created it first: use theirs.
		key, err = LoadKeyFile(path)
		return key, false, err
	}
	if err != nil {
		return Key{}, false, err
	}
	return key, true, nil
}

// writeLinked writes content to a temporary file beside path and links it
// to path. It returns an error wrapping fs.ErrExist when path exists.
func writeLinked(path string, content []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".gatehouse-key-*") // mode 0600
	if err != nil {
		return fmt.Errorf("seal: creating key file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := writeAndClose(tmp, content); err != nil {
		return err
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return err
		}
		// No hard links here (e.g. some network file systems).
		return writeExclusive(path, content)
	}
	syncDir(dir)
	return nil
}

// writeExclusive creates path with mode 0600 and writes content; it fails
// with fs.ErrExist when path exists.
func writeExclusive(path string, content []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if err := writeAndClose(f, content); err != nil {
		_ = os.Remove(path)
		return err
	}
	syncDir(filepath.Dir(path))
	return nil
}

func writeAndClose(f *os.File, content []byte) error {
	_, err := f.Write(content)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("seal: writing key file: %w", err)
	}
	return nil
}

// syncDir makes a new directory entry durable, where the OS allows it.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
}
