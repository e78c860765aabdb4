package console

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// tokenPageSize is how many tokens a list page shows.
const tokenPageSize = 25

// tokenView is an access token as the API shows it: never its value.
type tokenView struct {
	ID             string            `json:"id"`
	IdentityID     string            `json:"identityId"`
	AuthMethod     string            `json:"authMethod"`
	ClientSecretID string            `json:"clientSecretId"`
	CreatedAt      *string           `json:"createdAt"`
	LastRenewedAt  *string           `json:"lastRenewedAt"`
	ExpiresAt      *string           `json:"expiresAt"`
	ExpiresIn      int64             `json:"expiresIn"`
	TTL            int64             `json:"accessTokenTTL"`
	MaxTTL         int64             `json:"accessTokenMaxTTL"`
	Period         int64             `json:"accessTokenPeriod"`
	NumUses        int64             `json:"accessTokenNumUses"`
	NumUsesLimit   int64             `json:"accessTokenNumUsesLimit"`
	LastUsedAt     *string           `json:"accessTokenLastUsedAt"`
	Metadata       map[string]string `json:"metadata"`
	RevokedAt      *string           `json:"revokedAt"`
}

type tokenListData struct {
	Identity   identityView
	Tokens     []tokenView
	Total      int
	Page       int
	Prev, Next string
	Refused    string // the API's refusal to list (not an administrator)
	Form       Form   // the lookup form
}

type tokenData struct {
	Identity identityView
	Token    tokenView
}

func (c *Console) routesTokens(mux *http.ServeMux) {
	c.handle("GET /ui/identities/{id}/tokens", c.tokenList)
	c.handle("GET /ui/identities/{id}/tokens/{tid}", c.tokenShow)
	c.handle("POST /ui/identities/{id}/tokens/{tid}/revoke", c.tokenRevoke)
}

func tokensPath(id string) string { return identityPath(id) + "/tokens" }

func tokensAPIPath(id string) string { return "/api/v1/identities/" + url.PathEscape(id) + "/tokens" }

// tokenList lists the identity's live tokens; ?lookup=<token id> looks
// one up (its page, or the error beside the field).
func (c *Console) tokenList(w http.ResponseWriter, r *http.Request, s *Session) {
	id := r.PathValue("id")
	v, err := c.getIdentity(r, s, id)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	d := tokenListData{Identity: v, Form: NewForm(), Page: 1}
	status := http.StatusOK
	if look := strings.TrimSpace(r.URL.Query().Get("lookup")); look != "" {
		d.Form.Set("lookup", look)
		var out struct {
			Token tokenView `json:"token"`
		}
		err := c.call(r, s, http.MethodGet, tokensAPIPath(id)+"/"+url.PathEscape(look), nil, &out)
		if err == nil {
			http.Redirect(w, r, tokensPath(id)+"/"+url.PathEscape(out.Token.ID), http.StatusSeeOther)
			return
		}
		e := asAPIError(err)
		if e == nil || e.Status == http.StatusUnauthorized {
			c.fail(w, r, s, err)
			return
		}
		formErrors(d.Form, err, map[string]string{"tokenId": "lookup", "identityId": "lookup"})
		if msg := d.Form.Errors[""]; msg != "" {
			d.Form.Errors["lookup"] = msg
			delete(d.Form.Errors, "")
		}
		status = e.Status
	}
	if p, _ := strconv.Atoi(r.URL.Query().Get("page")); p > 1 {
		d.Page = p
	}
	var out struct {
		Tokens     []tokenView `json:"tokens"`
		TotalCount int         `json:"totalCount"`
	}
	path := tokensAPIPath(id) + "?offset=" + strconv.Itoa((d.Page-1)*tokenPageSize) + "&limit=" + strconv.Itoa(tokenPageSize)
	if err := c.call(r, s, http.MethodGet, path, nil, &out); err != nil {
		e := asAPIError(err)
		if e == nil || e.Status != http.StatusForbidden {
			c.fail(w, r, s, err)
			return
		}
		d.Refused = e.Message
		if status == http.StatusOK {
			status = http.StatusForbidden
		}
	}
	d.Tokens, d.Total = out.Tokens, out.TotalCount
	if d.Page > 1 {
		d.Prev = tokensPath(id) + "?page=" + strconv.Itoa(d.Page-1)
	}
	if d.Page*tokenPageSize < d.Total {
		d.Next = tokensPath(id) + "?page=" + strconv.Itoa(d.Page+1)
	}
	c.renderStatus(w, r, s, status, "tokens.html", "Tokens of "+v.Name, d)
}

func (c *Console) tokenShow(w http.ResponseWriter, r *http.Request, s *Session) {
	id := r.PathValue("id")
	v, err := c.getIdentity(r, s, id)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	var out struct {
		Token tokenView `json:"token"`
	}
	if err := c.call(r, s, http.MethodGet, tokensAPIPath(id)+"/"+url.PathEscape(r.PathValue("tid")), nil, &out); err != nil {
		c.fail(w, r, s, err)
		return
	}
	c.render(w, r, s, "token.html", "Token "+out.Token.ID, tokenData{Identity: v, Token: out.Token})
}

// tokenRevoke revokes a token by its id (Vault's revoke-accessor: the
// API checks the caller and audits the revocation).
func (c *Console) tokenRevoke(w http.ResponseWriter, r *http.Request, s *Session) {
	id, tid := r.PathValue("id"), r.PathValue("tid")
	// Only a token of this identity: the lookup refuses any other.
	var out struct {
		Token tokenView `json:"token"`
	}
	if err := c.call(r, s, http.MethodGet, tokensAPIPath(id)+"/"+url.PathEscape(tid), nil, &out); err != nil {
		c.fail(w, r, s, err)
		return
	}
	if err := c.call(r, s, http.MethodPost, "/v1/auth/token/revoke-accessor", map[string]string{"accessor": out.Token.ID}, nil); err != nil {
		c.fail(w, r, s, err)
		return
	}
	c.redirect(w, r, s, tokensPath(id), "Token "+out.Token.ID+" revoked.")
}
