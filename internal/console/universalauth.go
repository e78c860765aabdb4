package console

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

type trustedIP struct {
	IPAddress string `json:"ipAddress"`
	Prefix    int    `json:"prefix"`
}

// universalAuthView is an identity's Universal Auth as the API shows it.
type universalAuthView struct {
	ID                         string      `json:"id"`
	ClientID                   string      `json:"clientId"`
	ClientSecretTrustedIPs     []trustedIP `json:"clientSecretTrustedIps"`
	AccessTokenTrustedIPs      []trustedIP `json:"accessTokenTrustedIps"`
	AccessTokenTTL             int64       `json:"accessTokenTTL"`
	AccessTokenMaxTTL          int64       `json:"accessTokenMaxTTL"`
	AccessTokenNumUsesLimit    int64       `json:"accessTokenNumUsesLimit"`
	AccessTokenPeriod          int64       `json:"accessTokenPeriod"`
	LockoutEnabled             bool        `json:"lockoutEnabled"`
	LockoutThreshold           int64       `json:"lockoutThreshold"`
	LockoutDurationSeconds     int64       `json:"lockoutDurationSeconds"`
	LockoutCounterResetSeconds int64       `json:"lockoutCounterResetSeconds"`
	CreatedAt                  *string     `json:"createdAt"`
	UpdatedAt                  *string     `json:"updatedAt"`
}

type clientSecretView struct {
	ID                       string  `json:"id"`
	Description              string  `json:"description"`
	ClientSecretPrefix       string  `json:"clientSecretPrefix"`
	ClientSecretNumUses      int64   `json:"clientSecretNumUses"`
	ClientSecretNumUsesLimit int64   `json:"clientSecretNumUsesLimit"`
	ClientSecretTTL          int64   `json:"clientSecretTTL"`
	IsClientSecretRevoked    bool    `json:"isClientSecretRevoked"`
	CreatedAt                *string `json:"createdAt"`
}

type universalAuthData struct {
	Identity   identityView
	Attached   bool
	UA         universalAuthView
	Secrets    []clientSecretView
	Lockouts   []lockout
	Form       Form   // settings (attach or update)
	SecretForm Form   // new client secret
	Created    string // a client secret just created: shown once
}

// formInts copies the integer fields names of r's form into f and, when
// set, into body; a value that does not parse is f's error.
func formInts(r *http.Request, f Form, body map[string]any, names []string) {
	for _, name := range names {
		v := strings.TrimSpace(r.PostFormValue(name))
		f.Set(name, v)
		if v == "" {
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			f.Errors[name] = "must be a whole number"
			continue
		}
		body[name] = n
	}
}

// uaNumbers are the settings' integer fields (seconds or counts).
var uaNumbers = []string{"accessTokenTTL", "accessTokenMaxTTL", "accessTokenNumUsesLimit", "accessTokenPeriod",
	"lockoutThreshold", "lockoutDurationSeconds", "lockoutCounterResetSeconds"}

func (c *Console) routesUniversalAuth(mux *http.ServeMux) {
	const base = "/ui/identities/{id}/universal-auth"
	c.handle("GET "+base, c.universalAuthShow)
	c.handle("POST "+base, c.universalAuthSave)
	c.handle("POST "+base+"/detach", c.universalAuthDetach)
	c.handle("POST "+base+"/client-secrets", c.clientSecretCreate)
	c.handle("POST "+base+"/client-secrets/{sid}/revoke", c.clientSecretRevoke)
	c.handle("POST "+base+"/clear-lockouts", c.lockoutsClear)
}

func uaAPIPath(id string) string {
	return "/api/v1/auth/universal-auth/identities/" + url.PathEscape(id)
}

func uaPath(id string) string { return identityPath(id) + "/universal-auth" }

// loadUniversalAuth reads the identity, its Universal Auth (if attached)
// and its client secrets into d.
func (c *Console) loadUniversalAuth(r *http.Request, s *Session, id string, d *universalAuthData) error {
	v, err := c.getIdentity(r, s, id)
	if err != nil {
		return err
	}
	d.Identity = v
	for _, l := range v.ActiveLockouts {
		if l.AuthMethod == "universal-auth" {
			d.Lockouts = append(d.Lockouts, l)
		}
	}
	var ua struct {
		UA universalAuthView `json:"identityUniversalAuth"`
	}
	err = c.call(r, s, http.MethodGet, uaAPIPath(id), nil, &ua)
	if e := asAPIError(err); e != nil && e.Status == http.StatusNotFound {
		return nil // not attached
	}
	if err != nil {
		return err
	}
	d.Attached, d.UA = true, ua.UA
	var list struct {
		Secrets []clientSecretView `json:"clientSecretData"`
	}
	if err := c.call(r, s, http.MethodGet, uaAPIPath(id)+"/client-secrets", nil, &list); err != nil {
		return err
	}
	d.Secrets = list.Secrets
	return nil
}

// settingsForm is the settings form holding ua's values.
func settingsForm(ua universalAuthView) Form {
	f := NewForm()
	for name, v := range map[string]int64{
		"accessTokenTTL": ua.AccessTokenTTL, "accessTokenMaxTTL": ua.AccessTokenMaxTTL,
		"accessTokenNumUsesLimit": ua.AccessTokenNumUsesLimit, "accessTokenPeriod": ua.AccessTokenPeriod,
		"lockoutThreshold": ua.LockoutThreshold, "lockoutDurationSeconds": ua.LockoutDurationSeconds,
		"lockoutCounterResetSeconds": ua.LockoutCounterResetSeconds,
	} {
		f.Set(name, strconv.FormatInt(v, 10))
	}
	f.Set("clientSecretTrustedIps", formatIPs(ua.ClientSecretTrustedIPs))
	f.Set("accessTokenTrustedIps", formatIPs(ua.AccessTokenTrustedIPs))
	if ua.LockoutEnabled {
		f.Set("lockoutEnabled", "on")
	}
	return f
}

func formatIPs(ips []trustedIP) string {
	var b strings.Builder
	for _, ip := range ips {
		b.WriteString(ip.IPAddress + "/" + strconv.Itoa(ip.Prefix) + "\n")
	}
	return b.String()
}

func (c *Console) universalAuthShow(w http.ResponseWriter, r *http.Request, s *Session) {
	var d universalAuthData
	if err := c.loadUniversalAuth(r, s, r.PathValue("id"), &d); err != nil {
		c.fail(w, r, s, err)
		return
	}
	d.Form, d.SecretForm = settingsForm(d.UA), NewForm()
	if !d.Attached {
		d.Form = NewForm()
	}
	c.render(w, r, s, "universalauth.html", "Universal Auth of "+d.Identity.Name, d)
}

// settingsBody is the attach or update body from the form; empty fields
// are left out (the API's defaults, or unchanged). Integers that do not
// parse are the form's errors.
func settingsBody(r *http.Request, f Form) map[string]any {
	body := map[string]any{}
	formInts(r, f, body, uaNumbers)
	for _, name := range []string{"clientSecretTrustedIps", "accessTokenTrustedIps"} {
		v := r.PostFormValue(name)
		f.Set(name, v)
		var ips []map[string]string
		for _, line := range strings.Split(v, "\n") {
			if line = strings.TrimSpace(line); line != "" {
				ips = append(ips, map[string]string{"ipAddress": line})
			}
		}
		if len(ips) > 0 {
			body[name] = ips
		}
	}
	enabled := r.PostFormValue("lockoutEnabled") == "on"
	if enabled {
		f.Set("lockoutEnabled", "on")
	}
	body["lockoutEnabled"] = enabled
	return body
}

// universalAuthSave attaches Universal Auth, or updates its settings.
func (c *Console) universalAuthSave(w http.ResponseWriter, r *http.Request, s *Session) {
	id := r.PathValue("id")
	f := NewForm()
	body := settingsBody(r, f)
	method, msg := http.MethodPatch, "Universal Auth settings saved."
	if r.PostFormValue("attach") == "1" {
		method, msg = http.MethodPost, "Universal Auth attached."
	}
	var err error
	if !f.HasErrors() {
		if err = c.call(r, s, method, uaAPIPath(id), body, nil); err == nil {
			c.redirect(w, r, s, uaPath(id), msg)
			return
		}
		if e := asAPIError(err); e == nil || e.Status == http.StatusUnauthorized || e.Status == http.StatusNotFound {
			c.fail(w, r, s, err)
			return
		}
		formErrors(f, err, nil)
	}
	c.showUniversalAuthForm(w, r, s, id, err, func(d *universalAuthData) { d.Form = f })
}

// showUniversalAuthForm renders the page again after a refused form
// (status of the API's refusal, else 422), with set filling in the form.
func (c *Console) showUniversalAuthForm(w http.ResponseWriter, r *http.Request, s *Session, id string, apiErr error, set func(*universalAuthData)) {
	var d universalAuthData
	if err := c.loadUniversalAuth(r, s, id, &d); err != nil {
		c.fail(w, r, s, err)
		return
	}
	d.Form, d.SecretForm = settingsForm(d.UA), NewForm()
	if !d.Attached {
		d.Form = NewForm()
	}
	set(&d)
	status := http.StatusUnprocessableEntity
	if e := asAPIError(apiErr); e != nil {
		status = e.Status
	}
	c.renderStatus(w, r, s, status, "universalauth.html", "Universal Auth of "+d.Identity.Name, d)
}

func (c *Console) universalAuthDetach(w http.ResponseWriter, r *http.Request, s *Session) {
	id := r.PathValue("id")
	if err := c.call(r, s, http.MethodDelete, uaAPIPath(id), nil, nil); err != nil {
		c.fail(w, r, s, err)
		return
	}
	c.redirect(w, r, s, uaPath(id), "Universal Auth detached; its client secrets no longer log in.")
}

// clientSecretCreate creates a client secret and shows it, once: it is
// rendered in this answer only, never stored by the console.
func (c *Console) clientSecretCreate(w http.ResponseWriter, r *http.Request, s *Session) {
	id := r.PathValue("id")
	f := NewForm()
	body := map[string]any{}
	desc := r.PostFormValue("description")
	f.Set("description", desc)
	body["description"] = desc
	formInts(r, f, body, []string{"ttl", "numUsesLimit"})
	var out struct {
		Secret string `json:"clientSecret"`
	}
	var err error
	if !f.HasErrors() {
		if err = c.call(r, s, http.MethodPost, uaAPIPath(id)+"/client-secrets", body, &out); err == nil {
			c.showUniversalAuthCreated(w, r, s, id, out.Secret)
			return
		}
		if e := asAPIError(err); e == nil || e.Status == http.StatusUnauthorized || e.Status == http.StatusNotFound {
			c.fail(w, r, s, err)
			return
		}
		formErrors(f, err, nil)
	}
	c.showUniversalAuthForm(w, r, s, id, err, func(d *universalAuthData) { d.SecretForm = f })
}

func (c *Console) showUniversalAuthCreated(w http.ResponseWriter, r *http.Request, s *Session, id, secret string) {
	var d universalAuthData
	if err := c.loadUniversalAuth(r, s, id, &d); err != nil {
		c.fail(w, r, s, err)
		return
	}
	d.Form, d.SecretForm, d.Created = settingsForm(d.UA), NewForm(), secret
	c.render(w, r, s, "universalauth.html", "Universal Auth of "+d.Identity.Name, d)
}

func (c *Console) clientSecretRevoke(w http.ResponseWriter, r *http.Request, s *Session) {
	id := r.PathValue("id")
	if err := c.call(r, s, http.MethodPost, uaAPIPath(id)+"/client-secrets/"+url.PathEscape(r.PathValue("sid"))+"/revoke", nil, nil); err != nil {
		c.fail(w, r, s, err)
		return
	}
	c.redirect(w, r, s, uaPath(id), "Client secret revoked.")
}

func (c *Console) lockoutsClear(w http.ResponseWriter, r *http.Request, s *Session) {
	id := r.PathValue("id")
	var out struct {
		Deleted int64 `json:"deleted"`
	}
	if err := c.call(r, s, http.MethodPost, uaAPIPath(id)+"/clear-lockouts", nil, &out); err != nil {
		c.fail(w, r, s, err)
		return
	}
	c.redirect(w, r, s, uaPath(id), strconv.FormatInt(out.Deleted, 10)+" lockout(s) cleared.")
}
