package console

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// identityPageSize is how many identities a list page shows.
const identityPageSize = 20

// maxSearchScan bounds how many identities a search reads (the API has no
// name filter: the console filters pages of it).
const maxSearchScan = 1000

type metadataEntry struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

type lockout struct {
	AuthMethod     string  `json:"authMethod"`
	IPAddress      string  `json:"ipAddress"`
	FailedAttempts int     `json:"failedAttempts"`
	LockedUntil    *string `json:"lockedUntil"`
}

// identityView is an identity as the API shows it.
type identityView struct {
	ID                  string          `json:"id"`
	Name                string          `json:"name"`
	Role                string          `json:"role"`
	HasDeleteProtection bool            `json:"hasDeleteProtection"`
	AuthMethods         []string        `json:"authMethods"`
	Metadata            []metadataEntry `json:"metadata"`
	CreatedAt           *string         `json:"createdAt"`
	UpdatedAt           *string         `json:"updatedAt"`
	ActiveLockouts      []lockout       `json:"activeLockouts"`
}

// Has reports whether the identity has auth method m attached.
func (v identityView) Has(m string) bool {
	for _, a := range v.AuthMethods {
		if a == m {
			return true
		}
	}
	return false
}

type identityListData struct {
	Identities []identityView
	Total      int
	Query      string
	Page       int
	Prev, Next string // links, "" when none
	Form       Form   // the create form
	Roles      []string
	Scanned    bool // the search stopped at maxSearchScan
}

type identityData struct {
	Identity identityView
	Form     Form // the edit form
	Roles    []string
}

var roles = []string{"admin", "member", "no-access"}

func (c *Console) routesIdentities(mux *http.ServeMux) {
	c.handle("GET /ui/identities", c.identityList)
	c.handle("POST /ui/identities", c.identityCreate)
	c.handle("GET /ui/identities/{id}", c.identityShow)
	c.handle("POST /ui/identities/{id}", c.identityUpdate)
	c.handle("POST /ui/identities/{id}/delete", c.identityDelete)
}

// identityPath is an identity's page.
func identityPath(id string) string { return "/ui/identities/" + url.PathEscape(id) }

func (c *Console) identityList(w http.ResponseWriter, r *http.Request, s *Session) {
	f := NewForm()
	f.Set("role", "member")
	c.showIdentityList(w, r, s, http.StatusOK, f)
}

func (c *Console) showIdentityList(w http.ResponseWriter, r *http.Request, s *Session, status int, f Form) {
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	pageNo, _ := strconv.Atoi(r.URL.Query().Get("page"))
	if pageNo < 1 {
		pageNo = 1
	}
	d := identityListData{Query: q, Page: pageNo, Form: f, Roles: roles}
	var err error
	if q == "" {
		d.Identities, d.Total, err = c.listIdentities(r, s, (pageNo-1)*identityPageSize, identityPageSize)
	} else {
		d.Identities, d.Total, d.Scanned, err = c.searchIdentities(r, s, q, pageNo)
	}
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	link := func(p int) string {
		v := url.Values{"page": {strconv.Itoa(p)}}
		if q != "" {
			v.Set("q", q)
		}
		return "/ui/identities?" + v.Encode()
	}
	if pageNo > 1 {
		d.Prev = link(pageNo - 1)
	}
	if pageNo*identityPageSize < d.Total {
		d.Next = link(pageNo + 1)
	}
	c.renderStatus(w, r, s, status, "identities.html", "Identities", d)
}

func (c *Console) listIdentities(r *http.Request, s *Session, offset, limit int) ([]identityView, int, error) {
	var out struct {
		Identities []identityView `json:"identities"`
		TotalCount int            `json:"totalCount"`
	}
	path := "/api/v1/identities?offset=" + strconv.Itoa(offset) + "&limit=" + strconv.Itoa(limit)
	err := c.call(r, s, http.MethodGet, path, nil, &out)
	return out.Identities, out.TotalCount, err
}

// searchIdentities is the page pageNo of the identities whose name holds
// q (any case) or whose id is q, among the first maxSearchScan.
func (c *Console) searchIdentities(r *http.Request, s *Session, q string, pageNo int) ([]identityView, int, bool, error) {
	lq := strings.ToLower(q)
	var match []identityView
	scanned := 0
	for {
		batch, total, err := c.listIdentities(r, s, scanned, 100)
		if err != nil {
			return nil, 0, false, err
		}
		for _, v := range batch {
			if v.ID == q || strings.Contains(strings.ToLower(v.Name), lq) {
				match = append(match, v)
			}
		}
		scanned += len(batch)
		if len(batch) == 0 || scanned >= total {
			break
		}
		if scanned >= maxSearchScan {
			return pageOf(match, pageNo), len(match), true, nil
		}
	}
	return pageOf(match, pageNo), len(match), false, nil
}

func pageOf(vs []identityView, pageNo int) []identityView {
	start := (pageNo - 1) * identityPageSize
	if start >= len(vs) {
		return nil
	}
	return vs[start:min(start+identityPageSize, len(vs))]
}

// identityBody is the create and update body from a form.
func identityBody(r *http.Request, f Form) map[string]any {
	for _, k := range []string{"name", "role", "metadata"} {
		f.Set(k, r.PostFormValue(k))
	}
	body := map[string]any{"name": f.Get("name"), "role": f.Get("role"), "metadata": parseMetadata(f.Get("metadata"))}
	if r.PostFormValue("hasDeleteProtection") == "on" {
		f.Set("hasDeleteProtection", "on")
		body["hasDeleteProtection"] = true
	} else {
		body["hasDeleteProtection"] = false
	}
	return body
}

// parseMetadata reads key=value lines (blank lines skipped); a line
// without "=" is a key with an empty value.
func parseMetadata(text string) []metadataEntry {
	out := []metadataEntry{}
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimRight(line, "\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		k, v, _ := strings.Cut(line, "=")
		out = append(out, metadataEntry{Key: k, Value: v})
	}
	return out
}

// formatMetadata is the form text of metadata.
func formatMetadata(md []metadataEntry) string {
	var b strings.Builder
	for _, m := range md {
		b.WriteString(m.Key + "=" + m.Value + "\n")
	}
	return b.String()
}

func (c *Console) identityCreate(w http.ResponseWriter, r *http.Request, s *Session) {
	f := NewForm()
	body := identityBody(r, f)
	var out struct {
		Identity identityView `json:"identity"`
	}
	if err := c.call(r, s, http.MethodPost, "/api/v1/identities", body, &out); err != nil {
		if e := asAPIError(err); e == nil || e.Status == http.StatusUnauthorized {
			c.fail(w, r, s, err)
			return
		}
		formErrors(f, err, nil)
		c.showIdentityList(w, r, s, asAPIError(err).Status, f)
		return
	}
	c.redirect(w, r, s, identityPath(out.Identity.ID), "Identity "+out.Identity.Name+" created.")
}

// getIdentity reads one identity.
func (c *Console) getIdentity(r *http.Request, s *Session, id string) (identityView, error) {
	var out struct {
		Identity identityView `json:"identity"`
	}
	err := c.call(r, s, http.MethodGet, "/api/v1/identities/"+url.PathEscape(id), nil, &out)
	return out.Identity, err
}

func (c *Console) identityShow(w http.ResponseWriter, r *http.Request, s *Session) {
	v, err := c.getIdentity(r, s, r.PathValue("id"))
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	f := NewForm()
	f.Set("name", v.Name)
	f.Set("role", v.Role)
	f.Set("metadata", formatMetadata(v.Metadata))
	if v.HasDeleteProtection {
		f.Set("hasDeleteProtection", "on")
	}
	c.render(w, r, s, "identity.html", v.Name, identityData{Identity: v, Form: f, Roles: roles})
}

func (c *Console) identityUpdate(w http.ResponseWriter, r *http.Request, s *Session) {
	id := r.PathValue("id")
	f := NewForm()
	body := identityBody(r, f)
	var out struct {
		Identity identityView `json:"identity"`
	}
	err := c.call(r, s, http.MethodPatch, "/api/v1/identities/"+url.PathEscape(id), body, &out)
	if err == nil {
		c.redirect(w, r, s, identityPath(id), "Identity "+out.Identity.Name+" saved.")
		return
	}
	e := asAPIError(err)
	if e == nil || e.Status == http.StatusUnauthorized || e.Status == http.StatusNotFound {
		c.fail(w, r, s, err)
		return
	}
	v, gerr := c.getIdentity(r, s, id)
	if gerr != nil {
		c.fail(w, r, s, gerr)
		return
	}
	formErrors(f, err, nil)
	c.renderStatus(w, r, s, e.Status, "identity.html", v.Name, identityData{Identity: v, Form: f, Roles: roles})
}

func (c *Console) identityDelete(w http.ResponseWriter, r *http.Request, s *Session) {
	id := r.PathValue("id")
	var out struct {
		Identity identityView `json:"identity"`
	}
	if err := c.call(r, s, http.MethodDelete, "/api/v1/identities/"+url.PathEscape(id), nil, &out); err != nil {
		c.fail(w, r, s, err)
		return
	}
	c.redirect(w, r, s, "/ui/identities", "Identity "+out.Identity.Name+" deleted.")
}
