package console

// owned by kubeui

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Kubernetes Auth of an identity: settings (attach, update, revoke) and
// the connection test, all through the Infisical API's
// /api/v1/auth/kubernetes-auth routes.

const kubeAPI = "/api/v1/auth/kubernetes-auth/identities/"

func (c *Console) routesKubernetesAuth(_ *http.ServeMux) {
	const base = "/ui/identities/{id}/kubernetes-auth"
	c.handle("GET "+base, c.kubePage)
	c.handle("POST "+base, c.kubeSave)
	c.handle("POST "+base+"/test", c.kubeTest)
	c.handle("POST "+base+"/revoke", c.kubeRevoke)
}

// kubeFields are the settings form's fields, named as the API names them
// so that its field errors land next to them.
var kubeFields = []string{"kubernetesHost", "caCert", "verifyTlsCertificate", "tokenReviewerJwt", "tokenReviewMode",
	"gatewayId", "gatewayPoolId", "allowedNamespaces", "allowedNames", "allowedAudience",
	"accessTokenTTL", "accessTokenMaxTTL", "accessTokenNumUsesLimit", "accessTokenTrustedIps"}

// kubeConfigJSON is the API's identityKubernetesAuth.
type kubeConfigJSON struct {
	ID                      string  `json:"id"`
	KubernetesHost          *string `json:"kubernetesHost"`
	AllowedNamespaces       string  `json:"allowedNamespaces"`
	AllowedNames            string  `json:"allowedNames"`
	AllowedAudience         string  `json:"allowedAudience"`
	CACert                  string  `json:"caCert"`
	VerifyTLSCertificate    bool    `json:"verifyTlsCertificate"`
	TokenReviewMode         string  `json:"tokenReviewMode"`
	TokenReviewerJWTSet     bool    `json:"tokenReviewerJwtSet"`
	GatewayID               *string `json:"gatewayId"`
	GatewayPoolID           *string `json:"gatewayPoolId"`
	AccessTokenTTL          int64   `json:"accessTokenTTL"`
	AccessTokenMaxTTL       int64   `json:"accessTokenMaxTTL"`
	AccessTokenNumUsesLimit int64   `json:"accessTokenNumUsesLimit"`
	AccessTokenTrustedIPs   []struct {
		IPAddress string `json:"ipAddress"`
		Prefix    *int   `json:"prefix"`
	} `json:"accessTokenTrustedIps"`
	CreatedAt *string `json:"createdAt"`
	UpdatedAt *string `json:"updatedAt"`
}

// connectionTestJSON is the answer of the test-connection route.
type connectionTestJSON struct {
	OK              bool    `json:"ok"`
	TokenReviewMode string  `json:"tokenReviewMode"`
	KubernetesHost  *string `json:"kubernetesHost"`
	GatewayID       *string `json:"gatewayId"`
	GatewayPoolID   *string `json:"gatewayPoolId"`
	Checked         string  `json:"checked"`
	Problem         *string `json:"problem"`
	Message         string  `json:"message"`
	Warning         *string `json:"warning"`
	CheckedAt       *string `json:"checkedAt"`
}

// identityRef is the identity a page is about.
type identityRef struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// choice is an option of a select.
type choice struct{ Value, Label string }

// kubePageData is kubernetes.html's data.
type kubePageData struct {
	Identity identityRef
	Admin    bool
	// Attached: the identity has Kubernetes Auth; Config is it.
	Attached bool
	Config   kubeConfigJSON
	// Form is the settings form (Errors[""]: about the whole form).
	Form Form
	// Denied: the API refused the read (not an admin).
	Denied string
	Test   *connectionTestJSON
	// Gateways and Pools offer the gateway choices (empty when the server
	// has no gateways or the caller may not list them).
	Gateways, Pools []choice
}

func (c *Console) kubePage(w http.ResponseWriter, r *http.Request, s *Session) {
	d, ok := c.kubeLoad(w, r, s)
	if !ok {
		return
	}
	if d.Attached {
		d.Form = kubeFormOf(d.Config)
	} else {
		d.Form = kubeNewForm()
	}
	c.kubeRender(w, r, s, http.StatusOK, d)
}

// kubeLoad reads the identity and its Kubernetes Auth; false when it has
// answered already (unknown identity, API failure).
func (c *Console) kubeLoad(w http.ResponseWriter, r *http.Request, s *Session) (kubePageData, bool) {
	id := r.PathValue("id")
	d := kubePageData{Identity: identityRef{ID: id}, Admin: s.Admin}
	var ident struct {
		Identity identityRef `json:"identity"`
	}
	if err := c.call(r, s, http.MethodGet, "/api/v1/identities/"+url.PathEscape(id), nil, &ident); err != nil {
		c.fail(w, r, s, err)
		return d, false
	}
	d.Identity = ident.Identity
	var env struct {
		Config kubeConfigJSON `json:"identityKubernetesAuth"`
	}
	err := c.call(r, s, http.MethodGet, kubeAPI+url.PathEscape(id), nil, &env)
	var ae *APIError
	switch {
	case err == nil:
		d.Attached, d.Config = true, env.Config
	case errors.As(err, &ae) && ae.Status == http.StatusNotFound:
		// not attached
	case errors.As(err, &ae) && ae.Status == http.StatusForbidden:
		d.Denied = ae.Message
	default:
		c.fail(w, r, s, err)
		return d, false
	}
	if s.Admin {
		d.Gateways, d.Pools = c.gatewayChoices(r, s)
	}
	return d, true
}

func (c *Console) kubeRender(w http.ResponseWriter, r *http.Request, s *Session, status int, d kubePageData) {
	d.Gateways = withChoice(d.Gateways, d.Form.Get("gatewayId"))
	d.Pools = withChoice(d.Pools, d.Form.Get("gatewayPoolId"))
	c.renderStatus(w, r, s, status, "kubernetes.html", "Kubernetes Auth: "+d.Identity.Name, d)
}

func (c *Console) kubeURL(id string) string {
	return "/ui/identities/" + url.PathEscape(id) + "/kubernetes-auth"
}

// withChoice adds v to cs when it is set and not there (a gateway the
// list did not show: deleted, or gateways off), so a form keeps it.
func withChoice(cs []choice, v string) []choice {
	if v == "" {
		return cs
	}
	for _, c := range cs {
		if c.Value == v {
			return cs
		}
	}
	return append(cs, choice{Value: v, Label: v})
}

// kubeFormOf fills the form from a stored configuration; the reviewer
// JWT is write-only and never filled.
func kubeFormOf(k kubeConfigJSON) Form {
	v := map[string]string{
		"kubernetesHost": deref(k.KubernetesHost), "caCert": k.CACert, "tokenReviewMode": k.TokenReviewMode,
		"gatewayId": deref(k.GatewayID), "gatewayPoolId": deref(k.GatewayPoolID),
		"allowedNamespaces": k.AllowedNamespaces, "allowedNames": k.AllowedNames, "allowedAudience": k.AllowedAudience,
		"accessTokenTTL":          strconv.FormatInt(k.AccessTokenTTL, 10),
		"accessTokenMaxTTL":       strconv.FormatInt(k.AccessTokenMaxTTL, 10),
		"accessTokenNumUsesLimit": strconv.FormatInt(k.AccessTokenNumUsesLimit, 10),
	}
	if k.VerifyTLSCertificate {
		v["verifyTlsCertificate"] = "on"
	}
	ips := make([]string, 0, len(k.AccessTokenTrustedIPs))
	for _, ip := range k.AccessTokenTrustedIPs {
		a := ip.IPAddress
		if ip.Prefix != nil && !strings.Contains(a, "/") {
			a += "/" + strconv.Itoa(*ip.Prefix)
		}
		ips = append(ips, a)
	}
	v["accessTokenTrustedIps"] = strings.Join(ips, ", ")
	return Form{Values: v, Errors: map[string]string{}}
}

// kubeNewForm is the attach form's defaults (the API's).
func kubeNewForm() Form {
	f := NewForm()
	for k, v := range map[string]string{"tokenReviewMode": "api", "verifyTlsCertificate": "on",
		"accessTokenTTL": "2592000", "accessTokenMaxTTL": "2592000", "accessTokenNumUsesLimit": "0"} {
		f.Set(k, v)
	}
	return f
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// kubeBody turns the posted form into the API's attach body (cur nil)
// or update body: on update only the fields that differ from cur are
// sent, so an untouched setting is never re-validated. Numbers that do
// not parse are field errors here.
func kubeBody(r *http.Request, cur *kubeConfigJSON) (map[string]any, Form) {
	f := NewForm()
	for _, k := range kubeFields {
		f.Set(k, strings.TrimSpace(strings.ReplaceAll(r.PostFormValue(k), "\r\n", "\n")))
	}
	if f.Get("tokenReviewerJwt") != "" {
		f.Set("tokenReviewerJwtTyped", "on") // a refused form asks for it again
	}
	f.Set("tokenReviewerJwt", "") // write-only: never shown back
	old := map[string]string{}
	if cur != nil {
		old = kubeFormOf(*cur).Values
	}
	changed := func(k string) bool { return cur == nil || f.Get(k) != old[k] }
	body := map[string]any{}
	for _, k := range []string{"tokenReviewMode", "allowedNamespaces", "allowedNames", "allowedAudience"} {
		if changed(k) {
			body[k] = f.Get(k)
		}
	}
	// TLS: a CA means verification; sent together when either changed.
	// Gateway mode without a CA needs neither.
	if changed("caCert") || changed("verifyTlsCertificate") {
		gatewayNoCA := f.Get("tokenReviewMode") == "gateway" && f.Get("caCert") == ""
		if f.Get("caCert") != "" || cur != nil {
			body["caCert"] = f.Get("caCert")
		}
		if !(cur == nil && gatewayNoCA) {
			body["verifyTlsCertificate"] = f.Get("verifyTlsCertificate") != ""
		}
	}
	// Optional strings: empty clears on update (null), is omitted on attach.
	for _, k := range []string{"kubernetesHost", "gatewayId", "gatewayPoolId"} {
		switch v := f.Get(k); {
		case !changed(k):
		case v != "":
			body[k] = v
		case cur != nil:
			body[k] = nil
		}
	}
	// The reviewer JWT: empty keeps the stored one; the remove box
	// deletes it.
	if jwt := strings.TrimSpace(r.PostFormValue("tokenReviewerJwt")); jwt != "" {
		body["tokenReviewerJwt"] = jwt
	} else if cur != nil && r.PostFormValue("removeTokenReviewerJwt") != "" {
		body["tokenReviewerJwt"] = nil
	}
	for _, k := range []string{"accessTokenTTL", "accessTokenMaxTTL", "accessTokenNumUsesLimit"} {
		v := f.Get(k)
		if v == "" || !changed(k) {
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			f.Errors[k] = "Enter a whole number of seconds."
			if k == "accessTokenNumUsesLimit" {
				f.Errors[k] = "Enter a whole number (0: no limit)."
			}
			continue
		}
		body[k] = n
	}
	if changed("accessTokenTrustedIps") {
		ips := []map[string]string{}
		for _, ip := range strings.FieldsFunc(f.Get("accessTokenTrustedIps"), func(r rune) bool {
			return r == ',' || r == ' ' || r == '\n' || r == '\r' || r == '\t'
		}) {
			ips = append(ips, map[string]string{"ipAddress": ip})
		}
		if len(ips) > 0 || cur != nil {
			body["accessTokenTrustedIps"] = ips
		}
	}
	return body, f
}

// kubeSave attaches (when not attached) or updates.
func (c *Console) kubeSave(w http.ResponseWriter, r *http.Request, s *Session) {
	d, ok := c.kubeLoad(w, r, s)
	if !ok {
		return
	}
	var cur *kubeConfigJSON
	if d.Attached {
		cur = &d.Config
	}
	body, f := kubeBody(r, cur)
	d.Form = f
	if f.HasErrors() {
		c.kubeRender(w, r, s, http.StatusUnprocessableEntity, d)
		return
	}
	method := http.MethodPost
	if d.Attached {
		method = http.MethodPatch
	}
	var env struct {
		Config kubeConfigJSON `json:"identityKubernetesAuth"`
	}
	if err := c.call(r, s, method, kubeAPI+url.PathEscape(d.Identity.ID), body, &env); err != nil {
		c.kubeRender(w, r, s, formFailure(err, d.Form, kubeFields), d)
		return
	}
	msg := "Kubernetes Auth updated."
	if method == http.MethodPost {
		msg = "Kubernetes Auth attached."
	}
	c.redirect(w, r, s, c.kubeURL(d.Identity.ID), msg)
}

// kubeTest runs the connection test and shows its result.
func (c *Console) kubeTest(w http.ResponseWriter, r *http.Request, s *Session) {
	d, ok := c.kubeLoad(w, r, s)
	if !ok {
		return
	}
	d.Form = kubeNewForm()
	if d.Attached {
		d.Form = kubeFormOf(d.Config)
	}
	var env struct {
		Test connectionTestJSON `json:"connectionTest"`
	}
	if err := c.call(r, s, http.MethodPost, kubeAPI+url.PathEscape(d.Identity.ID)+"/test-connection", nil, &env); err != nil {
		c.kubeRender(w, r, s, formFailure(err, d.Form, nil), d)
		return
	}
	d.Test = &env.Test
	c.kubeRender(w, r, s, http.StatusOK, d)
}

// kubeRevoke detaches Kubernetes Auth (its tokens are revoked).
func (c *Console) kubeRevoke(w http.ResponseWriter, r *http.Request, s *Session) {
	d, ok := c.kubeLoad(w, r, s)
	if !ok {
		return
	}
	if err := c.call(r, s, http.MethodDelete, kubeAPI+url.PathEscape(d.Identity.ID), nil, nil); err != nil {
		d.Form = kubeNewForm()
		if d.Attached {
			d.Form = kubeFormOf(d.Config)
		}
		c.kubeRender(w, r, s, formFailure(err, d.Form, nil), d)
		return
	}
	c.redirect(w, r, s, c.kubeURL(d.Identity.ID), "Kubernetes Auth revoked, and every access token it issued.")
}

// formFailure copies an API refusal onto f (field errors next to their
// fields, the rest as the form's own error) and returns the status to
// answer. A rule error that names one of fields (a 400 about caCert, say)
// is shown next to that field too.
func formFailure(err error, f Form, fields []string) int {
	formErrors(f, err, nil)
	e := asAPIError(err)
	if e == nil {
		return http.StatusBadGateway
	}
	if len(e.Fields) == 0 {
		if k := fieldNamed(e.Message, fields); k != "" {
			f.Errors[k] = e.Message
		}
	} else if f.Errors[""] == "" {
		f.Errors[""] = "Some fields need attention: see the messages next to them."
	}
	return e.Status
}

// fieldNamed is the first of fields that msg names, or "".
func fieldNamed(msg string, fields []string) string {
	for _, k := range fields {
		if strings.Contains(msg, k) {
			return k
		}
	}
	return ""
}
