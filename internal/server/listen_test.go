package server_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/server"
)

// TestPlainHTTPWarning: plain HTTP on an address other hosts can reach
// starts with a WARN line; on loopback it does not.
func TestPlainHTTPWarning(t *testing.T) {
	for _, c := range []struct {
		listen string
		warn   bool
	}{
		{"0.0.0.0:0", true},
		{"127.0.0.1:0", false},
		{"localhost:0", false},
	} {
		t.Run(c.listen, func(t *testing.T) {
			var logs syncBuffer
			ln, err := server.Bind(c.listen)
			if err != nil {
				t.Fatal(err)
			}
			srv, err := server.New(context.Background(), server.Config{
				Storage:  "sqlite://" + filepath.Join(t.TempDir(), "g.db"),
				Listener: ln,
				Logger:   slog.New(slog.NewTextHandler(&logs, nil)),
				Out:      &syncBuffer{},
			})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			cancel() // serve, log the start, and shut down at once
			if err := srv.Serve(ctx); err != nil {
				t.Fatal(err)
			}
			got := strings.Contains(logs.String(), `level=WARN msg="serving plain HTTP on a non-loopback address`)
			if got != c.warn {
				t.Errorf("warning logged = %v, want %v:\n%s", got, c.warn, logs.String())
			}
		})
	}
}
