package postgres_test

import (
	"errors"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/store/postgres"
	"github.com/gatehouse-dev/gatehouse/internal/store/postgres/pgtest"
)

// TestOpenExisting: a database without Gatehouse's schema is refused and
// left without one; a migrated one opens.
func TestOpenExisting(t *testing.T) {
	url := pgtest.URL(t)
	if s, err := postgres.OpenExisting(t.Context(), url); !errors.Is(err, postgres.ErrNoStore) {
		if s != nil {
			s.Close()
		}
		t.Fatalf("OpenExisting of an empty database: %v, want ErrNoStore", err)
	}
	// Refusing created nothing: still refused.
	if _, err := postgres.OpenExisting(t.Context(), url); !errors.Is(err, postgres.ErrNoStore) {
		t.Fatalf("second OpenExisting: %v, want ErrNoStore", err)
	}
	s, err := postgres.Open(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = postgres.OpenExisting(t.Context(), url)
	if err != nil {
		t.Fatalf("OpenExisting of a migrated database: %v", err)
	}
	s.Close()
}
