package postgres

import (
	"context"
	"encoding/json"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

const auditEventColumns = `id, time, type, success, request_id, actor_id, identity_id,
	auth_method, client_ip, reason, details`

func scanAuditEvent(row pgx.Row, extra ...any) (store.AuditEvent, error) {
	var (
		e       store.AuditEvent
		details []byte
	)
	dest := append([]any{&e.ID, timeDest{&e.Time}, &e.Type, &e.Success, &e.RequestID, &e.ActorID,
		&e.IdentityID, &e.AuthMethod, &e.ClientIP, &e.Reason, &details}, extra...)
	if err := row.Scan(dest...); err != nil {
		return store.AuditEvent{}, err
	}
	if err := json.Unmarshal(details, &e.Details); err != nil {
		return store.AuditEvent{}, err
	}
	if e.Details == nil {
		e.Details = map[string]string{}
	}
	return e, nil
}

// AppendAuditEvent stores one audit event.
func (s *Store) AppendAuditEvent(ctx context.Context, e store.AuditEvent) error {
	args, err := auditArgs(e)
	if err == nil {
		_, err = s.pool.Exec(ctx, sqlAppendAuditEvent, args...)
	}
	if err != nil {
		return wrapErr("append audit event", err)
	}
	return nil
}

const sqlAppendAuditEvent = `INSERT INTO audit_events (` + auditEventColumns + `)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`

// auditArgs are the arguments of sqlAppendAuditEvent.
func auditArgs(e store.AuditEvent) ([]any, error) {
	details := e.Details
	if details == nil {
		details = map[string]string{}
	}
	detailsJSON, err := jsonArg(details)
	if err != nil {
		return nil, err
	}
	return []any{e.ID, timeArg(e.Time), e.Type, e.Success, e.RequestID, e.ActorID,
		e.IdentityID, e.AuthMethod, e.ClientIP, e.Reason, detailsJSON}, nil
}

// ListAuditEvents returns events newest first (the same instant: the last
// appended first), and the total count.
func (s *Store) ListAuditEvents(ctx context.Context, offset, limit int) ([]store.AuditEvent, int, error) {
	return page(ctx, s, "list audit events",
		`SELECT `+auditEventColumns+`, count(*) OVER () FROM audit_events
		ORDER BY time DESC NULLS LAST, seq DESC OFFSET $1 LIMIT $2`,
		`SELECT count(*) FROM audit_events`,
		[]any{offsetArg(offset), limitArg(limit)}, scanAuditEvent)
}

// PurgeAuditEvents deletes the events older than before (audit_events_time
// serves the range).
func (s *Store) PurgeAuditEvents(ctx context.Context, before time.Time) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM audit_events WHERE time < $1`, before)
	if err != nil {
		return 0, wrapErr("purge audit events", err)
	}
	return tag.RowsAffected(), nil
}
