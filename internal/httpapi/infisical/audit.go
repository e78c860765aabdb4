package infisical

import (
	"net/http"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/errs"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

type auditEventJSON struct {
	ID         string            `json:"id"`
	Type       string            `json:"type"`
	Success    bool              `json:"success"`
	RequestID  string            `json:"requestId"`
	ActorID    string            `json:"actorId"`
	IdentityID string            `json:"identityId"`
	AuthMethod string            `json:"authMethod"`
	ClientIP   string            `json:"ipAddress"`
	Reason     string            `json:"reason"`
	Details    map[string]string `json:"details"`
	CreatedAt  *string           `json:"createdAt"`
}

func (a *API) listAuditLogs(r *http.Request) (int, any, error) {
	p, _, err := a.principal(r)
	if err != nil {
		return 0, nil, err
	}
	if err := p.RequireAdmin("reading the audit log"); err != nil {
		return 0, nil, err
	}
	offset, limit, err := pageParams(r)
	if err != nil {
		return 0, nil, err
	}
	f, err := auditFilterParams(r, "offset", "limit")
	if err != nil {
		return 0, nil, err
	}
	events, total, err := a.Store.FilterAuditEvents(r.Context(), f, offset, limit)
	if err != nil {
		return 0, nil, errs.Wrap(err, "listing audit events")
	}
	out := make([]auditEventJSON, 0, len(events))
	for _, e := range events {
		if !p.Root {
			e = audit.HideRootAccessor(e)
		}
		out = append(out, toAuditEventJSON(e))
	}
	return http.StatusOK, map[string]any{"auditLogs": out, "totalCount": total}, nil
}

func toAuditEventJSON(e store.AuditEvent) auditEventJSON {
	d := e.Details
	if d == nil {
		d = map[string]string{}
	}
	return auditEventJSON{
		ID: e.ID, Type: e.Type, Success: e.Success, RequestID: e.RequestID, ActorID: e.ActorID,
		IdentityID: e.IdentityID, AuthMethod: e.AuthMethod, ClientIP: e.ClientIP, Reason: e.Reason,
		Details: d, CreatedAt: formatTime(e.Time),
	}
}
