package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// auditWhere is the WHERE clause of f (empty when f matches everything)
// and its arguments, numbered from $1.
func auditWhere(f store.AuditFilter) (string, []any) {
	var (
		conds []string
		args  []any
	)
	arg := func(cond string, v any) {
		args = append(args, v)
		conds = append(conds, cond+" $"+strconv.Itoa(len(args)))
	}
	if f.Type != "" {
		arg("type =", f.Type)
	}
	if f.IdentityID != "" {
		arg("identity_id =", f.IdentityID)
	}
	switch f.Outcome {
	case store.AuditOutcomeSuccess:
		conds = append(conds, "success")
	case store.AuditOutcomeFailure:
		conds = append(conds, "NOT success")
	}
	if !f.Since.IsZero() {
		arg("time >=", f.Since)
	}
	if !f.Until.IsZero() {
		arg("time <", f.Until)
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
		return nil, 0, fmt.Errorf("postgres: %w", err)
	}
	where, args := auditWhere(f)
	n := len(args)
	return page(ctx, s, "filter audit events",
		`SELECT `+auditEventColumns+`, count(*) OVER () FROM audit_events`+where+`
		ORDER BY time DESC NULLS LAST, seq DESC OFFSET $`+strconv.Itoa(n+1)+` LIMIT $`+strconv.Itoa(n+2),
		`SELECT count(*) FROM audit_events`+where,
		append(args, offsetArg(offset), limitArg(limit)), scanAuditEvent)
}

// CountAuditOutcomes counts the events matching f by outcome per bucket.
func (s *Store) CountAuditOutcomes(ctx context.Context, f store.AuditFilter, bucket time.Duration) ([]store.AuditCount, error) {
	n, err := store.AuditBuckets(f, bucket)
	if err != nil {
		return nil, err
	}
	if err := store.CheckAuditFilter(f); err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	out := make([]store.AuditCount, n)
	for i := range out {
		out[i].Start = f.Since.UTC().Add(time.Duration(i) * bucket)
	}
	where, args := auditWhere(f)
	k := len(args)
	q := `SELECT floor(extract(epoch FROM time - $` + strconv.Itoa(k+1) + `::timestamptz) * 1000000 / $` +
		strconv.Itoa(k+2) + `)::bigint, success, count(*) FROM audit_events` + where + ` GROUP BY 1, 2`
	rows, err := s.pool.Query(ctx, q, append(args, f.Since, bucket.Microseconds())...)
	if err != nil {
		return nil, wrapErr("count audit outcomes", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			i, count int64
			ok       bool
		)
		if err := rows.Scan(&i, &ok, &count); err != nil {
			return nil, wrapErr("count audit outcomes", err)
		}
		if i < 0 || i >= int64(n) {
			continue
		}
		if ok {
			out[i].Succeeded += int(count)
		} else {
			out[i].Failed += int(count)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, wrapErr("count audit outcomes", err)
	}
	return out, nil
}
