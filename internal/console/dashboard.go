package console

import (
	"net/http"
	"strconv"
	"time"
)

// dashboardHours is how many hours of logins the dashboard charts.
const dashboardHours = 24

// Chart geometry (SVG user units).
const (
	chartWidth  = 720
	chartHeight = 222
	chartTop    = 16
	chartBottom = 190 // the baseline
	chartLeft   = 40
)

type loginCount struct {
	Start     *string `json:"start"`
	Succeeded int     `json:"succeeded"`
	Failed    int     `json:"failed"`
}

// chartBar is one bar of the chart.
type chartBar struct {
	X, Y, W, H int
	Label      string
}

// chartLabel is a label under the axis or beside it.
type chartLabel struct {
	X, Y int
	Text string
}

// loginChart is the SVG chart's geometry, computed here so the template
// only writes attributes.
type loginChart struct {
	Width, Height, Baseline, Left, Right int
	Succeeded, Failed                    []chartBar
	XLabels                              []chartLabel
	Max                                  int
}

type dashboardData struct {
	Identities      int
	IdentitiesKnown bool
	Events          int
	Hours           int
	Counts          []loginCount
	Succeeded       int
	Failed          int
	Chart           *loginChart
	AuditHidden     bool // the session may not read the audit log
}

func (c *Console) routesDashboard(mux *http.ServeMux) {
	c.handle("GET /ui/{$}", c.dashboard)
}

func (c *Console) dashboard(w http.ResponseWriter, r *http.Request, s *Session) {
	d := dashboardData{Hours: dashboardHours}
	var ids struct {
		TotalCount int `json:"totalCount"`
	}
	if err := c.call(r, s, http.MethodGet, "/api/v1/identities?limit=1", nil, &ids); err == nil {
		d.Identities, d.IdentitiesKnown = ids.TotalCount, true
	} else if e := asAPIError(err); e == nil || e.Status != http.StatusForbidden {
		c.fail(w, r, s, err)
		return
	}
	var counts struct {
		Counts []loginCount `json:"counts"`
	}
	err := c.call(r, s, http.MethodGet, "/api/v1/gatehouse/audit-logs/counts?eventType=login&hours="+strconv.Itoa(dashboardHours), nil, &counts)
	if e := asAPIError(err); e != nil && e.Status == http.StatusForbidden {
		d.AuditHidden = true
		c.render(w, r, s, "dashboard.html", "Dashboard", d)
		return
	}
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	var events struct {
		TotalCount int `json:"totalCount"`
	}
	if err := c.call(r, s, http.MethodGet, "/api/v1/audit-logs?limit=1", nil, &events); err != nil {
		c.fail(w, r, s, err)
		return
	}
	d.Events = events.TotalCount
	d.Counts = counts.Counts
	for _, b := range d.Counts {
		d.Succeeded += b.Succeeded
		d.Failed += b.Failed
	}
	d.Chart = newLoginChart(d.Counts)
	c.render(w, r, s, "dashboard.html", "Dashboard", d)
}

// hourOf is the "15:04" of an API time, "" when unreadable.
func hourOf(s *string) string {
	if s == nil {
		return ""
	}
	t, err := time.Parse(time.RFC3339Nano, *s)
	if err != nil {
		return ""
	}
	return t.UTC().Format("15:04")
}

// newLoginChart lays out one pair of bars (succeeded, failed) per hour.
func newLoginChart(counts []loginCount) *loginChart {
	ch := &loginChart{Width: chartWidth, Height: chartHeight, Baseline: chartBottom, Left: chartLeft, Right: chartWidth - 4}
	for _, b := range counts {
		ch.Max = max(ch.Max, b.Succeeded, b.Failed)
	}
	scale := max(ch.Max, 1)
	n := max(len(counts), 1)
	slot := (ch.Right - ch.Left) / n
	barW := max((slot-4)/2, 1)
	height := func(v int) int {
		h := v * (chartBottom - chartTop) / scale
		if v > 0 && h < 2 {
			h = 2 // a non-zero hour stays visible
		}
		return h
	}
	for i, b := range counts {
		x := ch.Left + i*slot + 2
		hour := hourOf(b.Start)
		hs, hf := height(b.Succeeded), height(b.Failed)
		ch.Succeeded = append(ch.Succeeded, chartBar{X: x, Y: chartBottom - hs, W: barW, H: hs,
			Label: hour + " UTC: " + strconv.Itoa(b.Succeeded) + " succeeded"})
		ch.Failed = append(ch.Failed, chartBar{X: x + barW, Y: chartBottom - hf, W: barW, H: hf,
			Label: hour + " UTC: " + strconv.Itoa(b.Failed) + " failed"})
		if i%6 == 0 {
			ch.XLabels = append(ch.XLabels, chartLabel{X: x, Y: chartBottom + 22, Text: hour})
		}
	}
	return ch
}
