package audit_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/store/sqlite"
)

// BenchmarkAppendAuditEvent appends token-exchange events from many
// goroutines (the group writer batches them) to a SQLite store that
// already holds prefill events, with random (v4) and time-ordered (v7,
// what Stamp makes) event ids: the id's UNIQUE index takes a random leaf
// page per event with v4, the last one with v7.
func BenchmarkAppendAuditEvent(b *testing.B) {
	for _, kind := range []struct {
		name string
		id   func() string
	}{
		{"uuid-v4", uuid.NewString},
		{"uuid-v7", audit.NewEventID},
	} {
		b.Run(kind.name, func(b *testing.B) {
			prefill := 50_000
			if b.N < 100 {
				// A round that only checks the benchmark runs (CI's
				// -benchtime=1x, or the framework's first, unreported
				// round) needs no full table.
				prefill = 640
			}
			ctx := context.Background()
			st, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "g.db"))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { st.Close() })
			event := func() store.AuditEvent {
				return store.AuditEvent{ID: kind.id(), Time: time.Now(), Type: "token.exchange", Success: true,
					RequestID: uuid.NewString(), IdentityID: "8c0f0d52-5a3e-4d3f-9d0e-3f1c2b7a9e11", AuthMethod: "universal-auth",
					ClientIP: "127.0.0.1", Details: map[string]string{"audience": "sts.amazonaws.com", "accessor": "0b7e", "jti": "x", "kid": "k"}}
			}
			var wg sync.WaitGroup
			for w := range 64 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range prefill / 64 {
						if err := st.AppendAuditEvent(ctx, event()); err != nil {
							b.Error(w, err)
							return
						}
					}
				}()
			}
			wg.Wait()
			b.SetParallelism(32)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := st.AppendAuditEvent(ctx, event()); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkStamp is the cost of an event id (and the rest of Stamp).
func BenchmarkStamp(b *testing.B) {
	ctx := context.Background()
	now := time.Now()
	for b.Loop() {
		_ = audit.Stamp(ctx, store.AuditEvent{Type: "token.exchange"}, now)
	}
}
