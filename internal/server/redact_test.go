package server_test

import (
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/server"
)

func TestRedactStorageURL(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"sqlite://./gatehouse-data/gatehouse.db", "sqlite://./gatehouse-data/gatehouse.db"},
		{"postgres://gh@db:5432/gatehouse", "postgres://gh@db:5432/gatehouse"},
		{"postgres://gh:s3cret@db:5432/gatehouse?sslmode=require", "postgres://gh:REDACTED@db:5432/gatehouse?sslmode=require"},
		{"postgres://db/gatehouse?user=gh&password=s3cret", "postgres://db/gatehouse?password=REDACTED&user=gh"},
		{"postgres://gh:s3cret@db/%zz", "postgres://REDACTED"},
	} {
		if got := server.RedactStorageURL(tc.in); got != tc.want {
			t.Errorf("RedactStorageURL(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
