package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

const auditEventCols = `id, time, type, success, request_id, actor_id, identity_id, auth_method,
	client_ip, reason, details`

func scanAuditEvent(r rowScanner) (store.AuditEvent, error) {
	var (
		e       store.AuditEvent
		at      sql.NullInt64
		details string
	)
	if err := r.Scan(&e.ID, &at, &e.Type, &e.Success, &e.RequestID, &e.ActorID, &e.IdentityID,
		&e.AuthMethod, &e.ClientIP, &e.Reason, &details); err != nil {
		return store.AuditEvent{}, err
	}
	var err error
	if e.Details, err = decodeStringMap(details); err != nil {
		return store.AuditEvent{}, fmt.Errorf("audit event %q details: %w", e.ID, err)
	}
	e.Time = fromMicros(at)
	return e, nil
}

// AppendAuditEvent adds one event to the log, committed with the other
// inserts waiting at that moment, and written with the other events among
// them in one multi-row INSERT (groupcommit.go).
func (s *Store) AppendAuditEvent(ctx context.Context, e store.AuditEvent) error {
	if err := checkText("append audit event", e.ID, e.Type, e.RequestID, e.ActorID, e.IdentityID, e.AuthMethod, e.ClientIP, e.Reason); err != nil {
		return err
	}
	args, err := auditArgs(e)
	if err == nil {
		err = s.groupAppendAudit(ctx, args)
	}
	if err != nil {
		return fmt.Errorf("sqlite: append audit event %q: %w", e.ID, mapErr(err))
	}
	return nil
}

// auditArgs are the arguments of sqlAppendAuditEvent.
func auditArgs(e store.AuditEvent) ([]any, error) {
	details, err := encodeJSON(e.Details, "{}")
	if err != nil {
		return nil, err
	}
	return []any{e.ID, micros(e.Time), e.Type, e.Success, e.RequestID, e.ActorID, e.IdentityID,
		e.AuthMethod, e.ClientIP, e.Reason, details}, nil
}

// ListAuditEvents returns a page of events, newest first (equal times: last
// appended first), and the total. A limit of zero or less means no limit.
func (s *Store) ListAuditEvents(ctx context.Context, offset, limit int) ([]store.AuditEvent, int, error) {
	out, total, err := s.auditPage(ctx, "", nil, offset, limit)
	if err != nil {
		return nil, 0, fmt.Errorf("sqlite: list audit events: %w", mapErr(err))
	}
	return out, total, nil
}

// auditPage returns a page of the events matching where and args
// (auditWhere; "" for all), newest first, and their total.
func (s *Store) auditPage(ctx context.Context, where string, args []any, offset, limit int) ([]store.AuditEvent, int, error) {
	offset, limit = pageArgs(offset, limit)
	return page(ctx, s, `SELECT `+auditEventCols+` FROM audit_events`+where+`
		ORDER BY time DESC, seq DESC LIMIT ? OFFSET ?`, `SELECT count(*) FROM audit_events`+where, args, limit, offset, scanAuditEvent)
}

// PurgeAuditEvents deletes the events older than before (audit_events_time
// serves the range).
func (s *Store) PurgeAuditEvents(ctx context.Context, before time.Time) (int64, error) {
	res, err := s.write.ExecContext(ctx, `DELETE FROM audit_events WHERE time < ?`, before.UnixMicro())
	if err != nil {
		return 0, fmt.Errorf("sqlite: purge audit events: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("sqlite: purge audit events: %w", err)
	}
	return n, nil
}
