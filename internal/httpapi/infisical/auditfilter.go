package infisical

import (
	"net/http"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/gatehouse-dev/gatehouse/internal/errs"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// maxAuditParam bounds the text query parameters of the audit routes.
const maxAuditParam = 200

// MaxAuditCountHours bounds the hours of GET /api/v1/gatehouse/audit-logs/counts.
const MaxAuditCountHours = 24 * 7

// auditFilterParams reads the audit log's filter from the query: Infisical's
// eventType, startDate and endDate (RFC 3339), and Gatehouse's identityId
// and outcome (success or failure). Parameters other than these and
// allowed are refused, as are repeated ones.
func auditFilterParams(r *http.Request, allowed ...string) (store.AuditFilter, error) {
	var (
		f      store.AuditFilter
		fields []errs.FieldError
	)
	bad := func(name, msg string) { fields = append(fields, errs.FieldError{Path: name, Message: msg}) }
	known := []string{"eventType", "identityId", "outcome", "startDate", "endDate"}
	q := r.URL.Query()
	names := make([]string, 0, len(q))
	for name := range q {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		vals := q[name]
		switch {
		case !slices.Contains(known, name) && !slices.Contains(allowed, name):
			bad(name, "unknown query parameter")
			continue
		case len(vals) > 1:
			bad(name, "must be given once")
			continue
		}
		v := vals[0]
		if len(v) > maxAuditParam || !utf8.ValidString(v) || slices.Contains([]byte(v), 0) {
			bad(name, "must be valid text of at most 200 bytes")
			continue
		}
		switch name {
		case "eventType":
			f.Type = v
		case "identityId":
			f.IdentityID = v
		case "outcome":
			if v != "" && v != store.AuditOutcomeSuccess && v != store.AuditOutcomeFailure {
				bad(name, `must be "success" or "failure"`)
			}
			f.Outcome = v
		case "startDate", "endDate":
			if v == "" {
				continue
			}
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				bad(name, "must be an RFC 3339 time such as 2026-01-02T15:04:05Z")
				continue
			}
			if name == "startDate" {
				f.Since = t
			} else {
				f.Until = t
			}
		}
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Since.Before(f.Until) {
		bad("endDate", "must be after startDate")
	}
	if len(fields) > 0 {
		return store.AuditFilter{}, errs.Validation(fields...)
	}
	return f, nil
}

type auditCountJSON struct {
	Start     *string `json:"start"`
	Succeeded int     `json:"succeeded"`
	Failed    int     `json:"failed"`
}

// countAuditLogs serves GET /api/v1/gatehouse/audit-logs/counts: the
// events of one type (eventType, default "login"; identityId optional) by
// outcome per hour over the last hours (1 to 168, default 24), oldest
// first, the last bucket holding the current hour.
func (a *API) countAuditLogs(r *http.Request) (int, any, error) {
	p, _, err := a.principal(r)
	if err != nil {
		return 0, nil, err
	}
	if err := p.RequireAdmin("reading the audit log"); err != nil {
		return 0, nil, err
	}
	hours := 24
	if q := r.URL.Query(); q.Has("hours") {
		n, perr := strconv.Atoi(q.Get("hours"))
		if perr != nil || n < 1 || n > MaxAuditCountHours || len(q["hours"]) > 1 {
			return 0, nil, errs.Validation(errs.FieldError{Path: "hours", Message: "must be an integer from 1 to 168, given once"})
		}
		hours = n
	}
	f, err := auditFilterParams(r, "hours")
	if err != nil {
		return 0, nil, err
	}
	if !f.Since.IsZero() || !f.Until.IsZero() || f.Outcome != "" {
		return 0, nil, errs.Validation(errs.FieldError{Path: "startDate", Message: "the counts take hours, not startDate, endDate or outcome"})
	}
	if f.Type == "" {
		f.Type = "login"
	}
	f.Until = a.Now().UTC().Truncate(time.Hour).Add(time.Hour)
	f.Since = f.Until.Add(-time.Duration(hours) * time.Hour)
	counts, err := a.Store.CountAuditOutcomes(r.Context(), f, time.Hour)
	if err != nil {
		return 0, nil, errs.Wrap(err, "counting audit events")
	}
	out := make([]auditCountJSON, 0, len(counts))
	for _, c := range counts {
		out = append(out, auditCountJSON{Start: formatTime(c.Start), Succeeded: c.Succeeded, Failed: c.Failed})
	}
	return http.StatusOK, map[string]any{"eventType": f.Type, "bucketSeconds": 3600, "counts": out}, nil
}
