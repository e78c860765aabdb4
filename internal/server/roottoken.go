package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/gatehouse-dev/gatehouse/internal/secret"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// metaRootTokenCreated is the meta key set when the first root token is
// created.
const metaRootTokenCreated = "root_token_created_at"

// checkRootTokenFile refuses, before anything is created, a root-token
// file whose directory does not exist.
func checkRootTokenFile(path string) error {
	if path == "" {
		return nil
	}
	fi, err := os.Stat(filepath.Dir(path))
	if err != nil {
		return fmt.Errorf("--root-token-file: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("--root-token-file: %s is not a directory", filepath.Dir(path))
	}
	return nil
}

// writeRootTokenFile writes the token (and a newline) to path with mode
// 0600, all or nothing: to a temporary file in the same directory, then
// linked into place, which fails if path exists. It never overwrites.
func writeRootTokenFile(path string, tok secret.Secret) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".gatehouse-root-token-*") // mode 0600
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.WriteString(tok.Reveal() + "\n")
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%s exists: not overwriting it", path)
		}
		return err
	}
	return nil
}

// announceRoot delivers the root token created at the first start: to
// --root-token-file when given (the log says only where it is); with JSON
// logs, as one JSON object line {"root_token": ...} on Out beside the
// (token-free) log record; otherwise as the plain-text banner.
func (s *Server) announceRoot(tok secret.Secret) error {
	cfg := s.cfg
	switch {
	case cfg.RootTokenFile != "":
		if err := writeRootTokenFile(cfg.RootTokenFile, tok); err != nil {
			return fmt.Errorf("the root token was created but not written to --root-token-file (%w): start with a new store, or issue another with `gatehouse operator generate-root`", err)
		}
		cfg.Logger.Info("root token created and written to the root-token file, mode 0600 (only its hash is stored)", "file", cfg.RootTokenFile)
	case cfg.LogJSON:
		cfg.Logger.Warn("root token created: printed once on stderr as a JSON line with the key root_token (only its hash is stored); give --root-token-file to keep it out of logs")
		line, err := json.Marshal(map[string]string{"root_token": tok.Reveal(), "msg": "Gatehouse root token: shown once"})
		if err != nil {
			return err
		}
		fmt.Fprintf(cfg.Out, "%s\n", line)
	default:
		hint := "Lost it? Stop the server and run `gatehouse operator generate-root`."
		if cfg.Dev {
			hint = "Development mode: the store is deleted when the server stops; a restart prints a new root token."
		}
		fmt.Fprintf(cfg.Out, "\nRoot token (shown once; only its hash is stored):\n\n    %s\n\nUse it as \"Authorization: Bearer <token>\" or \"X-Vault-Token: <token>\".\n%s\n\n", tok.Reveal(), hint)
	}
	return nil
}

// checkRootTokenFileUnused refuses a first start whose root-token file
// already exists (left from another store?): it is never overwritten.
func (s *Server) checkRootTokenFileUnused(ctx context.Context) error {
	if s.cfg.RootTokenFile == "" {
		return nil
	}
	if _, err := s.store.GetMeta(ctx, metaRootTokenCreated); !errors.Is(err, store.ErrNotFound) {
		return err // nil: not the first start, the file is not written
	}
	if _, err := os.Lstat(s.cfg.RootTokenFile); err == nil {
		return fmt.Errorf("--root-token-file %s exists but this store has no root token yet: not overwriting it; move it away", s.cfg.RootTokenFile)
	}
	return nil
}
