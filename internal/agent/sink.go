package agent

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
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

// Owner is who a sink file belongs to. The zero value (and -1 in a
// field) keeps the owner the process creates files with.
type Owner struct {
	// Set says the owner is to be changed at all.
	Set bool
	// UID and GID are the numeric owner; -1 leaves that one unchanged.
	UID, GID int
}

// ParseOwner parses "uid[:gid]" (numeric, as in a pod's runAsUser and
// fsGroup): "1000" changes the user only, "1000:2000" both, ":2000" the
// group only.
func ParseOwner(s string) (Owner, error) {
	if s == "" {
		return Owner{}, nil
	}
	u, g, hasGID := strings.Cut(s, ":")
	o := Owner{Set: true, UID: -1, GID: -1}
	parse := func(v string) (int, error) {
		n, err := strconv.ParseUint(v, 10, 31)
		if err != nil {
			return 0, fmt.Errorf("owner %q: want numeric uid[:gid], e.g. 1000 or 1000:2000", s)
		}
		return int(n), nil
	}
	var err error
	if u != "" {
		if o.UID, err = parse(u); err != nil {
			return Owner{}, err
		}
	}
	if hasGID {
		if o.GID, err = parse(g); err != nil {
			return Owner{}, err
		}
	}
	if o.UID == -1 && o.GID == -1 {
		return Owner{}, fmt.Errorf("owner %q: want numeric uid[:gid], e.g. 1000 or 1000:2000", s)
	}
	return o, nil
}

// CheckChown reports, before the first write, whether this process may
// give files away to o: only root (or a process holding CAP_CHOWN) may
// change a file's user; anyone may change its group to a group they are
// in. It tries on a scratch file in dir, so the answer is the kernel's.
func (o Owner) CheckChown(dir string) error {
	if !o.Set {
		return nil
	}
	f, err := os.CreateTemp(dir, ".gatehouse-chown-check-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	if err := f.Chown(o.UID, o.GID); err != nil {
		return fmt.Errorf("cannot give sink files to %s (running as uid %d; changing a file's owner needs root or CAP_CHOWN): %w",
			o, os.Geteuid(), err)
	}
	return nil
}

func (o Owner) String() string {
	if !o.Set {
		return "(unchanged)"
	}
	id := func(n int) string {
		if n < 0 {
			return ""
		}
		return strconv.Itoa(n)
	}
	return id(o.UID) + ":" + id(o.GID)
}

// FileSink writes the bare token to Path with Mode and Owner.
type FileSink struct {
	Path  string
	Mode  fs.FileMode
	Owner Owner
}

func (s FileSink) Name() string { return s.Path }

func (s FileSink) checkOwner() error { return s.Owner.CheckChown(filepath.Dir(s.Path)) }

func (s FileSink) Write(t TokenInfo) error {
	return writeFileAtomic(s.Path, []byte(t.Token), s.Mode, s.Owner)
}

// TemplateSink renders Template with a TokenInfo and writes the result to
// Path with Mode, e.g. an env file: GATEHOUSE_TOKEN={{.Token}}.
type TemplateSink struct {
	Path     string
	Mode     fs.FileMode
	Owner    Owner
	Template *template.Template
}

func (s TemplateSink) Name() string { return s.Path }

func (s TemplateSink) checkOwner() error { return s.Owner.CheckChown(filepath.Dir(s.Path)) }

func (s TemplateSink) Write(t TokenInfo) error {
	var b bytes.Buffer
	if err := s.Template.Execute(&b, t); err != nil {
		// The template's error may quote data: never the token, since
		// text/template names fields and types, not values.
		return fmt.Errorf("rendering the template for %s: %w", s.Path, err)
	}
	return writeFileAtomic(s.Path, b.Bytes(), s.Mode, s.Owner)
}

// WriteFileAtomic writes data to a new file beside path, with mode, syncs
// it and renames it over path: a reader sees the old content or the new,
// never a part, and never a file with a wider mode.
func WriteFileAtomic(path string, data []byte, mode fs.FileMode) error {
	return writeFileAtomic(path, data, mode, Owner{})
}

// writeFileAtomic is WriteFileAtomic that also gives the new file to
// owner before the rename, so the file at path never has the wrong owner.
func writeFileAtomic(path string, data []byte, mode fs.FileMode, owner Owner) error {
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
	if owner.Set {
		if err := f.Chown(owner.UID, owner.GID); err != nil {
			return err
		}
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
