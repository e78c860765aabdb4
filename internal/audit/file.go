package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// Sink receives a copy of every audit event once the store has it, one
// JSON object a line, as Vault's file audit device writes (--audit-file),
// for a SIEM or log collector. Events hold no secret, so neither do lines.
type Sink struct {
	mu     sync.Mutex
	w      io.Writer
	closer io.Closer // nil for stdout
	logger *slog.Logger
	broken atomic.Bool // the last write failed (logged once, until one succeeds)
}

// OpenSink opens path for appending, creating it with mode 0600; "-" is
// standard output (stdout).
func OpenSink(path string, stdout io.Writer, logger *slog.Logger) (*Sink, error) {
	if path == "-" {
		return NewSink(stdout, logger), nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("--audit-file: %w", err)
	}
	s := NewSink(f, logger)
	s.closer = f
	return s, nil
}

// NewSink returns a Sink writing to w.
func NewSink(w io.Writer, logger *slog.Logger) *Sink {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Sink{w: w, logger: logger}
}

// line is an event as written: names as in the audit-log API's JSON, time
// in RFC 3339 UTC.
type line struct {
	Time       string            `json:"time"`
	Type       string            `json:"type"`
	Success    bool              `json:"success"`
	ID         string            `json:"id"`
	RequestID  string            `json:"request_id,omitempty"`
	ActorID    string            `json:"actor_id,omitempty"`
	IdentityID string            `json:"identity_id,omitempty"`
	AuthMethod string            `json:"auth_method,omitempty"`
	ClientIP   string            `json:"client_ip,omitempty"`
	Reason     string            `json:"reason,omitempty"`
	Details    map[string]string `json:"details,omitempty"`
}

// Write writes e as one line, whole (one write call under a lock). A
// failure is logged when it starts and when writing works again; the
// store's copy is the record of authority.
func (s *Sink) Write(e store.AuditEvent) {
	b, err := json.Marshal(line{
		Time: e.Time.UTC().Format(time.RFC3339Nano), Type: e.Type, Success: e.Success, ID: e.ID,
		RequestID: e.RequestID, ActorID: e.ActorID, IdentityID: e.IdentityID, AuthMethod: e.AuthMethod,
		ClientIP: e.ClientIP, Reason: e.Reason, Details: e.Details,
	})
	if err == nil {
		b = append(b, '\n')
		s.mu.Lock()
		_, err = s.w.Write(b)
		s.mu.Unlock()
	}
	if err != nil {
		if !s.broken.Swap(true) {
			s.logger.Error("audit file: writing failed; events are still in the store", "err", err)
		}
		return
	}
	if s.broken.Swap(false) {
		s.logger.Info("audit file: writing works again")
	}
}

// Close closes the file (not stdout).
func (s *Sink) Close() error {
	if s == nil || s.closer == nil {
		return nil
	}
	return s.closer.Close()
}

// Tee returns st with every audit event (AppendAuditEvent, and a login's
// event written with its token by IssueAccessToken) also written to sink.
// Every other method is st's.
func Tee(st store.Store, sink *Sink) store.Store {
	return &teeStore{Store: st, sink: sink}
}

type teeStore struct {
	store.Store
	sink *Sink
}

// AppendAuditEvent writes the event to the file even when the store
// failed to take it: the event happened (Log.Record logs the failure).
func (t *teeStore) AppendAuditEvent(ctx context.Context, e store.AuditEvent) error {
	err := t.Store.AppendAuditEvent(ctx, e)
	t.sink.Write(e)
	return err
}

// IssueAccessToken writes the login's event only once the login is
// committed: a login rolled back did not happen.

func (t *teeStore) IssueAccessToken(ctx context.Context, w store.TokenIssue) error {
	if err := t.Store.IssueAccessToken(ctx, w); err != nil {
		return err
	}
	t.sink.Write(w.Event)
	return nil
}
