package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// auditWhere is the WHERE clause of f (empty when f matches everything)
// and its arguments.
func auditWhere(f store.AuditFilter) (string, []any) {
	var (
		conds []string
		args  []any
	)
	if f.Type != "" {
		conds, args = append(conds, "type = ?"), append(args, f.Type)
	}
	if f.IdentityID != "" {
		conds, args = append(conds, "identity_id = ?"), append(args, f.IdentityID)
	}
	switch f.Outcome {
	case store.AuditOutcomeSuccess:
		conds = append(conds, "success")
	case store.AuditOutcomeFailure:
		conds = append(conds, "NOT success")
	}
	if !f.Since.IsZero() {
		conds, args = append(conds, "time >= ?"), append(args, f.Since.UnixMicro())
	}
	if !f.Until.IsZero() {
		conds, args = append(conds, "time < ?"), append(args, f.Until.UnixMicro())
	}
	if len(conds) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

// FilterAuditEvents returns a page of the events matching f, newest first,
// and their total.
func (s *Store) FilterAuditEvents(ctx context.Context, f store.AuditFilter, offset, limit int) ([]store.AuditEvent, int, error) {
	if err := store.CheckAuditFilter(f); err != nil {
		return nil, 0, fmt.Errorf("sqlite: %w", err)
	}
	where, args := auditWhere(f)
	out, total, err := s.auditPage(ctx, where, args, offset, limit)
	if err != nil {
		return nil, 0, fmt.Errorf("sqlite: filter audit events: %w", mapErr(err))
	}
	return out, total, nil
}

// CountAuditOutcomes counts the events matching f by outcome per bucket.
func (s *Store) CountAuditOutcomes(ctx context.Context, f store.AuditFilter, bucket time.Duration) ([]store.AuditCount, error) {
	n, err := store.AuditBuckets(f, bucket)
	if err != nil {
		return nil, err
	}
	if err := store.CheckAuditFilter(f); err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	out := make([]store.AuditCount, n)
	for i := range out {
		out[i].Start = f.Since.UTC().Add(time.Duration(i) * bucket)
	}
	where, args := auditWhere(f)
	width := bucket.Microseconds()
	if width <= 0 {
		width = 1
	}
	q := `SELECT (time - ?) / ?, success, count(*) FROM audit_events` + where + ` GROUP BY 1, 2`
	err = s.inReadTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, q, append([]any{f.Since.UnixMicro(), width}, args...)...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				i, count int
				ok       bool
			)
			if err := rows.Scan(&i, &ok, &count); err != nil {
				return err
			}
			if i < 0 || i >= n {
				continue
			}
			if ok {
				out[i].Succeeded += count
			} else {
				out[i].Failed += count
			}
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: count audit outcomes: %w", mapErr(err))
	}
	return out, nil
}
