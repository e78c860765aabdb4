package console

// owned by kubeui

import (
	"net/http"
	"net/url"
	"strings"
)

// Gateways and gateway pools, through the API's /api/v2/gateways and
// /api/v1/gateway-pools routes: reads need the member role, writes admin.

func (c *Console) routesGateways(_ *http.ServeMux) {
	c.handle("GET /ui/gateways", c.gatewaysPage)
	c.handle("POST /ui/gateways/{id}/delete", c.gatewayDelete)
	c.handle("POST /ui/gateways/pools", c.poolCreate)
	c.handle("POST /ui/gateways/pools/{id}/rename", c.poolRename)
	c.handle("POST /ui/gateways/pools/{id}/delete", c.poolDelete)
	c.handle("POST /ui/gateways/pools/{id}/members", c.poolAddMember)
	c.handle("POST /ui/gateways/pools/{id}/members/{gatewayId}/delete", c.poolRemoveMember)
}

// gatewayJSON is a gateway as the API shows it.
type gatewayJSON struct {
	ID             string  `json:"id"`
	Name           string  `json:"name"`
	IdentityID     string  `json:"identityId"`
	PoolID         *string `json:"gatewayPoolId"`
	Version        string  `json:"version"`
	RemoteAddress  string  `json:"remoteAddress"`
	Connected      bool    `json:"connected"`
	ConnectedSince *string `json:"connectedSince"`
	Heartbeat      *string `json:"heartbeat"`
	CreatedAt      *string `json:"createdAt"`
}

// Pool is the gateway's pool ID, or "".
func (g gatewayJSON) Pool() string {
	if g.PoolID == nil {
		return ""
	}
	return *g.PoolID
}

// poolJSON is a gateway pool as the API shows it.
type poolJSON struct {
	ID             string        `json:"id"`
	Name           string        `json:"name"`
	Gateways       []gatewayJSON `json:"gateways"`
	ConnectedCount int           `json:"connectedCount"`
	CreatedAt      *string       `json:"createdAt"`
}

// gatewaysPageData is gateways.html's data.
type gatewaysPageData struct {
	Admin    bool
	Gateways []gatewayJSON
	Pools    []poolJSON
	// PoolNames maps a pool ID to its name, for the gateways table.
	PoolNames map[string]string
	// Form is the new-pool form; Errors[""] is the page's error.
	Form Form
	// PoolErrors are the errors of each pool's own forms, by pool ID.
	PoolErrors map[string]string
}

// listGateways reads the gateways and pools.
func (c *Console) listGateways(r *http.Request, s *Session) ([]gatewayJSON, []poolJSON, error) {
	var gws struct {
		Gateways []gatewayJSON `json:"gateways"`
	}
	if err := c.call(r, s, http.MethodGet, "/api/v2/gateways", nil, &gws); err != nil {
		return nil, nil, err
	}
	var pools struct {
		Pools []poolJSON `json:"gatewayPools"`
	}
	if err := c.call(r, s, http.MethodGet, "/api/v1/gateway-pools", nil, &pools); err != nil {
		return nil, nil, err
	}
	return gws.Gateways, pools.Pools, nil
}

// gatewayChoices are the options of the Kubernetes Auth form's gateway
// and pool selects; none when they cannot be read.
func (c *Console) gatewayChoices(r *http.Request, s *Session) (gateways, pools []choice) {
	gws, ps, err := c.listGateways(r, s)
	if err != nil {
		return nil, nil
	}
	for _, g := range gws {
		state := "not connected"
		if g.Connected {
			state = "connected"
		}
		gateways = append(gateways, choice{Value: g.ID, Label: g.Name + " (" + state + ")"})
	}
	for _, p := range ps {
		pools = append(pools, choice{Value: p.ID, Label: p.Name})
	}
	return gateways, pools
}

func (c *Console) gatewaysPage(w http.ResponseWriter, r *http.Request, s *Session) {
	c.gatewaysRender(w, r, s, http.StatusOK, NewForm(), nil)
}

// gatewaysRender reads the lists and shows the page with f (the new-pool
// form) and poolErrs.
func (c *Console) gatewaysRender(w http.ResponseWriter, r *http.Request, s *Session, status int, f Form, poolErrs map[string]string) {
	gws, pools, err := c.listGateways(r, s)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	d := gatewaysPageData{Admin: s.Admin, Gateways: gws, Pools: pools, PoolNames: map[string]string{}, Form: f, PoolErrors: poolErrs}
	for _, p := range pools {
		d.PoolNames[p.ID] = p.Name
	}
	c.renderStatus(w, r, s, status, "gateways.html", "Gateways", d)
}

// gatewayWrite makes one write and goes back to the list with done as
// the notice, or shows the list with the API's refusal (on the pool's
// forms when poolID is set).
func (c *Console) gatewayWrite(w http.ResponseWriter, r *http.Request, s *Session, method, path string, body any, poolID, done string) {
	err := c.call(r, s, method, path, body, nil)
	if err == nil {
		c.redirect(w, r, s, "/ui/gateways", done)
		return
	}
	f := NewForm()
	status := formFailure(err, f, nil)
	var poolErrs map[string]string
	if poolID != "" {
		poolErrs = map[string]string{poolID: f.Err("")}
		for k, v := range f.Errors {
			if k != "" {
				poolErrs[poolID] += " " + v
			}
		}
		f = NewForm()
	}
	c.gatewaysRender(w, r, s, status, f, poolErrs)
}

func (c *Console) gatewayDelete(w http.ResponseWriter, r *http.Request, s *Session) {
	c.gatewayWrite(w, r, s, http.MethodDelete, "/api/v2/gateways/"+url.PathEscape(r.PathValue("id")), nil, "", "Gateway deleted.")
}

func (c *Console) poolCreate(w http.ResponseWriter, r *http.Request, s *Session) {
	name := strings.TrimSpace(r.PostFormValue("name"))
	err := c.call(r, s, http.MethodPost, "/api/v1/gateway-pools", map[string]string{"name": name}, nil)
	if err == nil {
		c.redirect(w, r, s, "/ui/gateways", "Gateway pool "+name+" created.")
		return
	}
	f := NewForm()
	f.Set("name", name)
	status := formFailure(err, f, []string{"name"})
	if e := asAPIError(err); e != nil && len(e.Fields) == 0 && status != http.StatusForbidden {
		f.Errors["name"] = e.Message
	}
	c.gatewaysRender(w, r, s, status, f, nil)
}

func (c *Console) poolRename(w http.ResponseWriter, r *http.Request, s *Session) {
	id := r.PathValue("id")
	c.gatewayWrite(w, r, s, http.MethodPatch, "/api/v1/gateway-pools/"+url.PathEscape(id),
		map[string]string{"name": strings.TrimSpace(r.PostFormValue("name"))}, id, "Gateway pool renamed.")
}

func (c *Console) poolDelete(w http.ResponseWriter, r *http.Request, s *Session) {
	id := r.PathValue("id")
	c.gatewayWrite(w, r, s, http.MethodDelete, "/api/v1/gateway-pools/"+url.PathEscape(id), nil, id, "Gateway pool deleted.")
}

func (c *Console) poolAddMember(w http.ResponseWriter, r *http.Request, s *Session) {
	id := r.PathValue("id")
	c.gatewayWrite(w, r, s, http.MethodPost, "/api/v1/gateway-pools/"+url.PathEscape(id)+"/memberships",
		map[string]string{"gatewayId": r.PostFormValue("gatewayId")}, id, "Gateway added to the pool.")
}

func (c *Console) poolRemoveMember(w http.ResponseWriter, r *http.Request, s *Session) {
	id := r.PathValue("id")
	c.gatewayWrite(w, r, s, http.MethodDelete, "/api/v1/gateway-pools/"+url.PathEscape(id)+"/memberships/"+url.PathEscape(r.PathValue("gatewayId")),
		nil, id, "Gateway removed from the pool.")
}
