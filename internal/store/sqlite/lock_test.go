package sqlite

import (
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestOneProcessAtATime: a second Open of a database in use is refused
// with ErrLocked, and allowed once the first is closed.
func TestOneProcessAtATime(t *testing.T) {
	path := filepath.Join(t.TempDir(), "g.db")
	first, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	if s, err := Open(t.Context(), path); !errors.Is(err, ErrLocked) {
		if s != nil {
			s.Close()
		}
		t.Fatalf("second Open: %v, want ErrLocked", err)
	}
	if s, err := OpenExisting(t.Context(), path); !errors.Is(err, ErrLocked) {
		if s != nil {
			s.Close()
		}
		t.Fatalf("OpenExisting while open: %v, want ErrLocked", err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	second, err := OpenExisting(t.Context(), path)
	if err != nil {
		t.Fatalf("OpenExisting after Close: %v", err)
	}
	second.Close()
}

// TestOpenExistingRefusesNoStore: a missing file, an empty file and a
// SQLite database without Gatehouse's schema are refused, and left as
// they were.
func TestOpenExistingRefusesNoStore(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.db")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(dir, "other.db")
	db, err := sql.Open("sqlite", other)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`CREATE TABLE notes (x TEXT)`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	text := filepath.Join(dir, "text.db")
	if err := os.WriteFile(text, []byte("not a database"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{filepath.Join(dir, "missing.db"), filepath.Join(dir, "sub", "missing.db"), empty, other, text, dir} {
		before, _ := os.ReadDir(dir)
		s, err := OpenExisting(t.Context(), path)
		if !errors.Is(err, ErrNoStore) {
			if s != nil {
				s.Close()
			}
			t.Errorf("OpenExisting(%s) = %v, want ErrNoStore", filepath.Base(path), err)
		}
		if after, _ := os.ReadDir(dir); len(after) != len(before) {
			t.Errorf("OpenExisting(%s) created files: %v → %v", filepath.Base(path), before, after)
		}
	}
	fi, _ := os.Stat(empty)
	if fi.Size() != 0 {
		t.Error("the empty file was written to")
	}
}
