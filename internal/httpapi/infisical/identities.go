package infisical

import (
	"net/http"

	"github.com/gatehouse-dev/gatehouse/internal/errs"
	"github.com/gatehouse-dev/gatehouse/internal/identity"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

type metadataJSON struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

type identityJSON struct {
	ID                  string         `json:"id"`
	Name                string         `json:"name"`
	Role                store.Role     `json:"role"`
	HasDeleteProtection bool           `json:"hasDeleteProtection"`
	AuthMethods         []string       `json:"authMethods"`
	Metadata            []metadataJSON `json:"metadata"`
	CreatedAt           *string        `json:"createdAt"`
	UpdatedAt           *string        `json:"updatedAt"`
}

func toIdentityJSON(v identity.View) identityJSON {
	out := identityJSON{
		ID: v.ID, Name: v.Name, Role: v.Role, HasDeleteProtection: v.HasDeleteProtection,
		AuthMethods: make([]string, 0, len(v.AuthMethods)),
		Metadata:    make([]metadataJSON, 0, len(v.Metadata)),
		CreatedAt:   formatTime(v.CreatedAt), UpdatedAt: formatTime(v.UpdatedAt),
	}
	for _, m := range v.AuthMethods {
		out.AuthMethods = append(out.AuthMethods, string(m))
	}
	for _, m := range v.Metadata {
		out.Metadata = append(out.Metadata, metadataJSON(m))
	}
	return out
}

func toMetadata(in []metadataJSON) []store.MetadataEntry {
	out := make([]store.MetadataEntry, 0, len(in))
	for _, m := range in {
		out = append(out, store.MetadataEntry(m))
	}
	return out
}

type identityEnvelope struct {
	Identity identityJSON `json:"identity"`
}

type createIdentityBody struct {
	Name                *string         `json:"name"`
	Role                *store.Role     `json:"role"`
	OrganizationID      *string         `json:"organizationId"` // accepted and ignored: one organization
	HasDeleteProtection *bool           `json:"hasDeleteProtection"`
	Metadata            *[]metadataJSON `json:"metadata"`
}

func (a *API) createIdentity(r *http.Request) (int, any, error) {
	var body createIdentityBody
	p, err := a.principalAndBody(r, &body)
	if err != nil {
		return 0, nil, err
	}
	if body.Name == nil {
		return 0, nil, errs.Validation(errs.FieldError{Path: "name", Message: "Required"})
	}
	in := identity.CreateInput{Name: *body.Name}
	if body.Role != nil {
		in.Role = *body.Role
		if in.Role == "" {
			return 0, nil, errs.Validation(errs.FieldError{Path: "role", Message: `must be one of "admin", "member", "no-access"`})
		}
	}
	if body.HasDeleteProtection != nil {
		in.HasDeleteProtection = *body.HasDeleteProtection
	}
	if body.Metadata != nil {
		in.Metadata = toMetadata(*body.Metadata)
	}
	v, err := a.Identities.Create(r.Context(), p, in)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, identityEnvelope{toIdentityJSON(v)}, nil
}

func (a *API) getIdentity(r *http.Request) (int, any, error) {
	p, _, err := a.principal(r)
	if err != nil {
		return 0, nil, err
	}
	v, err := a.Identities.Get(r.Context(), p, r.PathValue("identityId"))
	if err != nil {
		return 0, nil, err
	}
	out, err := a.identityDetail(r, p, v)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, out, nil
}

func (a *API) listIdentities(r *http.Request) (int, any, error) {
	p, _, err := a.principal(r)
	if err != nil {
		return 0, nil, err
	}
	offset, limit, err := pageParams(r)
	if err != nil {
		return 0, nil, err
	}
	views, total, err := a.Identities.List(r.Context(), p, offset, limit)
	if err != nil {
		return 0, nil, err
	}
	out := make([]identityJSON, 0, len(views))
	for _, v := range views {
		out = append(out, toIdentityJSON(v))
	}
	return http.StatusOK, map[string]any{"identities": out, "totalCount": total}, nil
}

type updateIdentityBody struct {
	Name                *string         `json:"name"`
	Role                *store.Role     `json:"role"`
	HasDeleteProtection *bool           `json:"hasDeleteProtection"`
	Metadata            *[]metadataJSON `json:"metadata"`
}

func (a *API) updateIdentity(r *http.Request) (int, any, error) {
	var body updateIdentityBody
	p, err := a.principalAndPatch(r, &body)
	if err != nil {
		return 0, nil, err
	}
	in := identity.UpdateInput{Name: body.Name, Role: body.Role, HasDeleteProtection: body.HasDeleteProtection}
	if body.Metadata != nil {
		md := toMetadata(*body.Metadata)
		in.Metadata = &md
	}
	v, err := a.Identities.Update(r.Context(), p, r.PathValue("identityId"), in)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, identityEnvelope{toIdentityJSON(v)}, nil
}

func (a *API) deleteIdentity(r *http.Request) (int, any, error) {
	p, _, err := a.principal(r)
	if err != nil {
		return 0, nil, err
	}
	v, err := a.Identities.Delete(r.Context(), p, r.PathValue("identityId"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, identityEnvelope{toIdentityJSON(v)}, nil
}
