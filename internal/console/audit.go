package console

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// auditPageSize is how many events an audit page shows.
const auditPageSize = 50

// auditTimeLayout is the value of a datetime-local input; the console reads
// it as UTC.
const auditTimeLayout = "2006-01-02T15:04"

// auditEventView is an audit event as the API shows it.
type auditEventView struct {
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

type auditData struct {
	Events     []auditEventView
	Total      int
	Page       int
	Prev, Next string
	Form       Form // the filter form (GET)
	Filtered   bool
}

// auditFilterFields maps the filter form's fields to the API's query
// parameters.
var auditFilterFields = map[string]string{
	"type": "eventType", "identity": "identityId", "outcome": "outcome", "from": "startDate", "to": "endDate",
}

func (c *Console) routesAudit(mux *http.ServeMux) {
	c.handle("GET /ui/audit", c.auditList)
}

func (c *Console) auditList(w http.ResponseWriter, r *http.Request, s *Session) {
	q := r.URL.Query()
	f := NewForm()
	d := auditData{Form: f, Page: 1}
	if v := q.Get("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100000 {
			f.Errors["page"] = "The page must be a number from 1."
		} else {
			d.Page = n
		}
	}
	params := url.Values{}
	for field, param := range auditFilterFields {
		v := strings.TrimSpace(q.Get(field))
		f.Set(field, v)
		if v == "" {
			continue
		}
		d.Filtered = true
		switch field {
		case "outcome":
			if v != "success" && v != "failure" {
				f.Errors[field] = "Choose success or failure."
				continue
			}
		case "from", "to":
			t, err := time.Parse(auditTimeLayout, v)
			if err != nil {
				f.Errors[field] = "Give a date and time such as 2026-01-02T15:04 (UTC)."
				continue
			}
			v = t.UTC().Format(time.RFC3339)
		}
		params.Set(param, v)
	}
	if f.HasErrors() {
		c.renderStatus(w, r, s, http.StatusBadRequest, "audit.html", "Audit log", d)
		return
	}
	params.Set("offset", strconv.Itoa((d.Page-1)*auditPageSize))
	params.Set("limit", strconv.Itoa(auditPageSize))
	var out struct {
		AuditLogs  []auditEventView `json:"auditLogs"`
		TotalCount int              `json:"totalCount"`
	}
	if err := c.call(r, s, http.MethodGet, "/api/v1/audit-logs?"+params.Encode(), nil, &out); err != nil {
		if e := asAPIError(err); e != nil && len(e.Fields) > 0 {
			for field, param := range auditFilterFields {
				if msg, ok := e.Fields[param]; ok {
					f.Errors[field] = msg
				}
			}
			if f.HasErrors() {
				c.renderStatus(w, r, s, e.Status, "audit.html", "Audit log", d)
				return
			}
		}
		c.fail(w, r, s, err)
		return
	}
	d.Events, d.Total = out.AuditLogs, out.TotalCount
	link := func(p int) string {
		v := url.Values{"page": {strconv.Itoa(p)}}
		for field := range auditFilterFields {
			if x := f.Get(field); x != "" {
				v.Set(field, x)
			}
		}
		return "/ui/audit?" + v.Encode()
	}
	if d.Page > 1 {
		d.Prev = link(d.Page - 1)
	}
	if d.Page*auditPageSize < d.Total {
		d.Next = link(d.Page + 1)
	}
	c.render(w, r, s, "audit.html", "Audit log", d)
}
