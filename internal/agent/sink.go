package agent

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"text/template"
	"time"
)

// TokenInfo is what a sink writes: the token and when it expires.
type TokenInfo struct {
	// Token is the access token's value.
	Token string
	// ExpiresAt is when the token expires (zero: no expiry).
	ExpiresAt time.Time
	// TTL is the token's remaining life in whole seconds when written.
	TTL int64
}

// Sink is where the agent puts each fresh token.
type Sink interface {
	Write(TokenInfo) error
	Name() string
}

// FileSink writes the bare token to Path with Mode.
type FileSink struct {
	Path string
	Mode fs.FileMode
}

func (s FileSink) Name() string { return s.Path }

func (s FileSink) Write(t TokenInfo) error {
	return WriteFileAtomic(s.Path, []byte(t.Token), s.Mode)
}

// TemplateSink renders Template with a TokenInfo and writes the result to
// Path with Mode, e.g. an env file: GATEHOUSE_TOKEN={{.Token}}.
type TemplateSink struct {
	Path     string
	Mode     fs.FileMode
	Template *template.Template
}

func (s TemplateSink) Name() string { return s.Path }

func (s TemplateSink) Write(t TokenInfo) error {
	var b bytes.Buffer
	if err := s.Template.Execute(&b, t); err != nil {
		// The template's error may quote data: never the token, since
		// text/template names fields and types, not values.
		return fmt.Errorf("rendering the template for %s: %w", s.Path, err)
	}
	return WriteFileAtomic(s.Path, b.Bytes(), s.Mode)
}

// WriteFileAtomic writes data to a new file beside path, with mode, syncs
// it and renames it over path: a reader sees the old content or the new,
// never a part, and never a file with a wider mode.
func WriteFileAtomic(path string, data []byte, mode fs.FileMode) error {
	if mode == 0 {
		mode = 0o600
	}
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	// CreateTemp makes the file 0600; set the wanted mode (not subject to
	// the umask) before anything is written.
	if err := f.Chmod(mode); err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	ok = true
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
