package console

// owned by kubeui

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
)

// Vault Kubernetes auth mounts and roles, through Gatehouse's Vault API
// (/v1/sys/auth, /v1/auth/{mount}/config and .../role): c.call sends the
// session token as a bearer, which the Vault API accepts as it accepts
// X-Vault-Token, and reads Vault's {"errors":[…]} bodies.

func (c *Console) routesVault(_ *http.ServeMux) {
	c.handle("GET /ui/vault", c.vaultPage)
	c.handle("POST /ui/vault/mounts", c.vaultEnable)
	c.handle("GET /ui/vault/mounts/{mount}", c.vaultMountPage)
	c.handle("POST /ui/vault/mounts/{mount}/config", c.vaultConfigSave)
	c.handle("POST /ui/vault/mounts/{mount}/delete", c.vaultDisable)
	c.handle("POST /ui/vault/mounts/{mount}/roles", c.vaultRoleSave)
	c.handle("GET /ui/vault/mounts/{mount}/roles/{role}", c.vaultRolePage)
	c.handle("POST /ui/vault/mounts/{mount}/roles/{role}", c.vaultRoleSave)
	c.handle("POST /ui/vault/mounts/{mount}/roles/{role}/delete", c.vaultRoleDelete)
}

// vaultConfigFields and vaultRoleFields are the forms' fields, named as
// the Vault API names them; its errors name them too, so an error that
// names one is shown next to it (longest names first).
var (
	vaultConfigFields = []string{"kubernetes_ca_cert", "kubernetes_host", "token_reviewer_jwt", "token_review_mode",
		"gateway_pool_id", "gateway_id", "pem_keys", "disable_iss_validation", "disable_local_ca_jwt", "issuer",
		"use_annotations_as_alias_metadata"}
	vaultRoleFields = []string{"bound_service_account_namespace_selector", "bound_service_account_namespaces",
		"bound_service_account_names", "token_explicit_max_ttl", "token_no_default_policy", "token_bound_cidrs",
		"token_max_ttl", "token_num_uses", "token_policies", "token_period", "token_type", "token_ttl",
		"alias_name_source", "audience", "name"}
	// vaultNumeric are the role fields not sent when empty (a duration or
	// count that "" would not parse as).
	vaultNumeric = map[string]bool{"token_ttl": true, "token_max_ttl": true, "token_explicit_max_ttl": true,
		"token_period": true, "token_num_uses": true, "token_type": true, "alias_name_source": true}
	vaultConfigBools = []string{"disable_iss_validation", "disable_local_ca_jwt", "use_annotations_as_alias_metadata"}
)

// vaultMount is a Kubernetes auth mount of the list.
type vaultMount struct{ Path, URL, Description, Accessor string }

type vaultPageData struct {
	Admin  bool
	Mounts []vaultMount
	Form   Form // the enable form
}

type vaultMountData struct {
	Admin bool
	Mount string
	// MountURL is the mount's page (a mount path may hold slashes).
	MountURL   string
	Configured bool
	// ReviewerJWTSet: a reviewer JWT is stored (never shown).
	ReviewerJWTSet bool
	Roles          []string
	Config         Form // the config form
	Role           Form // the new-role form
	RoleFields     []fieldSpec
}

type vaultRoleData struct {
	Admin      bool
	Mount      string
	MountURL   string
	Role       string
	Form       Form
	RoleFields []fieldSpec
}

// fieldSpec is one form field as the shared "field" template draws it.
type fieldSpec struct {
	ID, Name, Label, Kind, Value, Error string // Kind: text, textarea, select, check
	Options                             []choice
}

// roleFields are the role form's fields, filled from f.
func roleFields(f Form) []fieldSpec {
	specs := []fieldSpec{
		{Name: "bound_service_account_names", Label: "bound_service_account_names (comma-separated; * globs)"},
		{Name: "bound_service_account_namespaces", Label: "bound_service_account_namespaces (comma-separated; * globs)"},
		{Name: "bound_service_account_namespace_selector", Label: "bound_service_account_namespace_selector (JSON or YAML)", Kind: "textarea"},
		{Name: "audience", Label: "audience"},
		{Name: "alias_name_source", Label: "alias_name_source", Kind: "select",
			Options: []choice{{"serviceaccount_uid", "serviceaccount_uid"}, {"serviceaccount_name", "serviceaccount_name"}}},
		{Name: "token_policies", Label: "token_policies (comma-separated)"},
		{Name: "token_ttl", Label: "token_ttl (seconds, or 90m, 1h)"},
		{Name: "token_max_ttl", Label: "token_max_ttl"},
		{Name: "token_explicit_max_ttl", Label: "token_explicit_max_ttl"},
		{Name: "token_period", Label: "token_period"},
		{Name: "token_num_uses", Label: "token_num_uses (0: no limit)"},
		{Name: "token_bound_cidrs", Label: "token_bound_cidrs (comma-separated)"},
		{Name: "token_type", Label: "token_type", Kind: "select", Options: []choice{{"default", "default"}, {"service", "service"}}},
		{Name: "token_no_default_policy", Label: "token_no_default_policy", Kind: "check"},
	}
	for i := range specs {
		s := &specs[i]
		s.ID, s.Value, s.Error = "role-"+s.Name, f.Get(s.Name), f.Err(s.Name)
		if s.Kind == "" {
			s.Kind = "text"
		}
	}
	return specs
}

// vaultPath is the Vault API path of a mount plus rest, each segment
// escaped.
func vaultPath(prefix, mount string, rest ...string) string {
	segs := strings.Split(strings.Trim(mount, "/"), "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	for _, s := range rest {
		segs = append(segs, url.PathEscape(s))
	}
	return prefix + strings.Join(segs, "/")
}

// mountURL is a mount's page: the path is one escaped segment, so a
// mount path with slashes (team/prod) is one too.
func mountURL(mount string) string { return "/ui/vault/mounts/" + url.PathEscape(mount) }

func (c *Console) vaultPage(w http.ResponseWriter, r *http.Request, s *Session) {
	c.vaultRender(w, r, s, http.StatusOK, NewForm())
}

func (c *Console) vaultRender(w http.ResponseWriter, r *http.Request, s *Session, status int, f Form) {
	var list struct {
		Data map[string]struct {
			Type        string `json:"type"`
			Description string `json:"description"`
			Accessor    string `json:"accessor"`
		} `json:"data"`
	}
	if err := c.call(r, s, http.MethodGet, "/v1/sys/auth", nil, &list); err != nil {
		if e := asAPIError(err); e == nil || e.Status != http.StatusForbidden {
			c.fail(w, r, s, err)
			return
		}
		f.Errors[""] = "Only administrators can list Vault auth mounts."
	}
	d := vaultPageData{Admin: s.Admin, Form: f}
	for p, m := range list.Data {
		if m.Type == "kubernetes" {
			d.Mounts = append(d.Mounts, vaultMount{Path: strings.TrimSuffix(p, "/"), URL: mountURL(strings.TrimSuffix(p, "/")), Description: m.Description, Accessor: m.Accessor})
		}
	}
	sort.Slice(d.Mounts, func(i, j int) bool { return d.Mounts[i].Path < d.Mounts[j].Path })
	c.renderStatus(w, r, s, status, "vault.html", "Vault", d)
}

func (c *Console) vaultEnable(w http.ResponseWriter, r *http.Request, s *Session) {
	f := NewForm()
	path := strings.Trim(strings.TrimSpace(r.PostFormValue("path")), "/")
	f.Set("path", path)
	f.Set("description", strings.TrimSpace(r.PostFormValue("description")))
	if path == "" {
		f.Errors["path"] = "Enter the mount's path, e.g. kubernetes-prod."
		c.vaultRender(w, r, s, http.StatusUnprocessableEntity, f)
		return
	}
	err := c.call(r, s, http.MethodPost, vaultPath("/v1/sys/auth/", path), map[string]string{"type": "kubernetes", "description": f.Get("description")}, nil)
	if err != nil {
		status := formFailure(err, f, nil)
		if e := asAPIError(err); e != nil && status == http.StatusBadRequest {
			f.Errors["path"] = e.Message
		}
		c.vaultRender(w, r, s, status, f)
		return
	}
	c.redirect(w, r, s, mountURL(path), "Mount "+path+" enabled. Configure it below.")
}

func (c *Console) vaultDisable(w http.ResponseWriter, r *http.Request, s *Session) {
	mount := r.PathValue("mount")
	if err := c.call(r, s, http.MethodDelete, vaultPath("/v1/sys/auth/", mount), nil, nil); err != nil {
		f := NewForm()
		c.vaultRender(w, r, s, formFailure(err, f, nil), f)
		return
	}
	c.redirect(w, r, s, "/ui/vault", "Mount "+mount+" disabled: its roles are deleted and its tokens revoked.")
}

// vaultMountLoad reads a mount's config and roles into d; false when it
// has answered already.
func (c *Console) vaultMountLoad(w http.ResponseWriter, r *http.Request, s *Session) (vaultMountData, bool) {
	mount := r.PathValue("mount")
	d := vaultMountData{Admin: s.Admin, Mount: mount, MountURL: mountURL(mount), Config: NewForm(), Role: NewForm(), RoleFields: roleFields(NewForm())}
	var cfg struct {
		Data map[string]any `json:"data"`
	}
	err := c.call(r, s, http.MethodGet, vaultPath("/v1/auth/", mount, "config"), nil, &cfg)
	switch e := asAPIError(err); {
	case err == nil:
		d.Configured = true
		for k, v := range cfg.Data {
			d.Config.Set(k, formValue(v))
		}
		d.ReviewerJWTSet = cfg.Data["token_reviewer_jwt_set"] == true
		d.Config.Set("pem_keys", strings.Join(stringList(cfg.Data["pem_keys"]), "\n"))
	case e != nil && e.Status == http.StatusNotFound:
		if !c.vaultMountExists(r, s, mount) {
			c.renderError(w, r, s, http.StatusNotFound, "No Kubernetes auth mount "+mount+".")
			return d, false
		}
		d.Config.Set("token_review_mode", "api")
		d.Config.Set("disable_iss_validation", "on")
	default:
		c.fail(w, r, s, err)
		return d, false
	}
	var roles struct {
		Data struct {
			Keys []string `json:"keys"`
		} `json:"data"`
	}
	err = c.call(r, s, http.MethodGet, vaultPath("/v1/auth/", mount, "role")+"?list=true", nil, &roles)
	if e := asAPIError(err); err != nil && (e == nil || e.Status != http.StatusNotFound) {
		c.fail(w, r, s, err)
		return d, false
	}
	d.Roles = roles.Data.Keys
	return d, true
}

// vaultMountExists reports whether mount is a Kubernetes auth mount.
func (c *Console) vaultMountExists(r *http.Request, s *Session, mount string) bool {
	var list struct {
		Data map[string]struct {
			Type string `json:"type"`
		} `json:"data"`
	}
	if c.call(r, s, http.MethodGet, "/v1/sys/auth", nil, &list) != nil {
		return true // let the page show what the API says
	}
	return list.Data[strings.Trim(mount, "/")+"/"].Type == "kubernetes"
}

func (c *Console) vaultMountPage(w http.ResponseWriter, r *http.Request, s *Session) {
	if d, ok := c.vaultMountLoad(w, r, s); ok {
		c.renderStatus(w, r, s, http.StatusOK, "vault_mount.html", "Vault mount "+d.Mount, d)
	}
}

var pemBlockRE = regexp.MustCompile(`(?s)-----BEGIN [A-Z ]+-----.*?-----END [A-Z ]+-----`)

func (c *Console) vaultConfigSave(w http.ResponseWriter, r *http.Request, s *Session) {
	d, ok := c.vaultMountLoad(w, r, s)
	if !ok {
		return
	}
	f := NewForm()
	body := map[string]any{}
	for _, k := range vaultConfigFields {
		v := strings.TrimSpace(strings.ReplaceAll(r.PostFormValue(k), "\r\n", "\n"))
		f.Set(k, v)
		body[k] = v
	}
	for _, k := range vaultConfigBools {
		body[k] = f.Get(k) != ""
	}
	keys := pemBlockRE.FindAllString(f.Get("pem_keys"), -1)
	if keys == nil {
		keys = []string{}
	}
	if f.Get("pem_keys") != "" && len(keys) == 0 {
		f.Errors["pem_keys"] = "Paste one or more PEM public keys (-----BEGIN PUBLIC KEY----- …)."
	}
	body["pem_keys"] = keys
	if f.Get("token_reviewer_jwt") != "" {
		f.Set("token_reviewer_jwt_typed", "on") // a refused form asks for it again
	}
	f.Set("token_reviewer_jwt", "") // write-only
	d.Config = f
	if f.HasErrors() {
		c.renderStatus(w, r, s, http.StatusUnprocessableEntity, "vault_mount.html", "Vault mount "+d.Mount, d)
		return
	}
	if err := c.call(r, s, http.MethodPost, vaultPath("/v1/auth/", d.Mount, "config"), body, nil); err != nil {
		status := formFailure(err, f, vaultConfigFields)
		c.renderStatus(w, r, s, status, "vault_mount.html", "Vault mount "+d.Mount, d)
		return
	}
	c.redirect(w, r, s, mountURL(d.Mount), "Configuration saved.")
}

// vaultRoleValues reads a role into form values.
func (c *Console) vaultRoleValues(r *http.Request, s *Session, mount, role string) (Form, error) {
	var out struct {
		Data map[string]any `json:"data"`
	}
	f := NewForm()
	if err := c.call(r, s, http.MethodGet, vaultPath("/v1/auth/", mount, "role", role), nil, &out); err != nil {
		return f, err
	}
	for _, k := range vaultRoleFields {
		f.Set(k, formValue(out.Data[k]))
	}
	return f, nil
}

func (c *Console) vaultRolePage(w http.ResponseWriter, r *http.Request, s *Session) {
	mount, role := r.PathValue("mount"), r.PathValue("role")
	f, err := c.vaultRoleValues(r, s, mount, role)
	if err != nil {
		if e := asAPIError(err); e != nil && e.Status == http.StatusNotFound {
			c.renderError(w, r, s, http.StatusNotFound, "No role "+role+" on mount "+mount+".")
			return
		}
		c.fail(w, r, s, err)
		return
	}
	c.renderStatus(w, r, s, http.StatusOK, "vault_role.html", "Vault role "+role, vaultRoleData{Admin: s.Admin, Mount: mount, MountURL: mountURL(mount), Role: role, Form: f, RoleFields: roleFields(f)})
}

// vaultRoleSave creates (POST …/roles, the name in the form) or updates
// (POST …/roles/{role}) a role with every field of the form.
func (c *Console) vaultRoleSave(w http.ResponseWriter, r *http.Request, s *Session) {
	mount, role := r.PathValue("mount"), r.PathValue("role")
	create := role == ""
	f := NewForm()
	body := map[string]any{}
	for _, k := range vaultRoleFields {
		v := strings.TrimSpace(strings.ReplaceAll(r.PostFormValue(k), "\r\n", "\n"))
		f.Set(k, v)
		if k != "name" && (v != "" || !vaultNumeric[k]) {
			body[k] = v
		}
	}
	body["token_no_default_policy"] = f.Get("token_no_default_policy") != ""
	if create {
		role = f.Get("name")
		if role == "" {
			f.Errors["name"] = "Enter the role's name."
		}
	}
	if !f.HasErrors() {
		err := c.call(r, s, http.MethodPost, vaultPath("/v1/auth/", mount, "role", role), body, nil)
		if err == nil {
			c.redirect(w, r, s, mountURL(mount)+"/roles/"+url.PathEscape(strings.ToLower(role)), fmt.Sprintf("Role %s saved.", role))
			return
		}
		status := formFailure(err, f, vaultRoleFields)
		c.vaultRoleFailed(w, r, s, status, mount, role, create, f)
		return
	}
	c.vaultRoleFailed(w, r, s, http.StatusUnprocessableEntity, mount, role, create, f)
}

func (c *Console) vaultRoleFailed(w http.ResponseWriter, r *http.Request, s *Session, status int, mount, role string, create bool, f Form) {
	if create {
		d, ok := c.vaultMountLoad(w, r, s)
		if !ok {
			return
		}
		d.Role, d.RoleFields = f, roleFields(f)
		c.renderStatus(w, r, s, status, "vault_mount.html", "Vault mount "+mount, d)
		return
	}
	c.renderStatus(w, r, s, status, "vault_role.html", "Vault role "+role, vaultRoleData{Admin: s.Admin, Mount: mount, MountURL: mountURL(mount), Role: role, Form: f, RoleFields: roleFields(f)})
}

func (c *Console) vaultRoleDelete(w http.ResponseWriter, r *http.Request, s *Session) {
	mount, role := r.PathValue("mount"), r.PathValue("role")
	if err := c.call(r, s, http.MethodDelete, vaultPath("/v1/auth/", mount, "role", role), nil, nil); err != nil {
		f, rerr := c.vaultRoleValues(r, s, mount, role)
		if rerr != nil {
			c.fail(w, r, s, err)
			return
		}
		c.vaultRoleFailed(w, r, s, formFailure(err, f, nil), mount, role, false, f)
		return
	}
	c.redirect(w, r, s, mountURL(mount), "Role "+role+" deleted: its identity and tokens are gone.")
}

// formValue shows an API value in a form field: lists comma-separated,
// booleans as a checked box ("on" or ""), numbers as they are.
func formValue(v any) string {
	switch t := v.(type) {
	case nil:
		return ""
	case string:
		return t
	case bool:
		if t {
			return "on"
		}
		return ""
	case float64:
		return fmt.Sprint(int64(t))
	case []any:
		return strings.Join(stringList(t), ",")
	}
	return fmt.Sprint(v)
}

func stringList(v any) []string {
	l, _ := v.([]any)
	out := make([]string, 0, len(l))
	for _, x := range l {
		out = append(out, fmt.Sprint(x))
	}
	return out
}
