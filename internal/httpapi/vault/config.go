package vault

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/gatehouse-dev/gatehouse/internal/errs"
	"github.com/gatehouse-dev/gatehouse/internal/kubeauth"
	"github.com/gatehouse-dev/gatehouse/internal/secret"
	"github.com/gatehouse-dev/gatehouse/internal/vaultauth"
)

// configBody is auth/<mount>/config.
type configBody struct {
	KubernetesHost       string          `json:"kubernetes_host"`
	KubernetesCACert     string          `json:"kubernetes_ca_cert"`
	TokenReviewerJWT     string          `json:"token_reviewer_jwt"`
	PEMKeys              json.RawMessage `json:"pem_keys"`
	Issuer               string          `json:"issuer"`
	DisableISSValidation json.RawMessage `json:"disable_iss_validation"`
	DisableLocalCAJWT    json.RawMessage `json:"disable_local_ca_jwt"`
	TokenReviewMode      string          `json:"token_review_mode"` // a Gatehouse extension
	GatewayID            string          `json:"gateway_id"`        // a Gatehouse extension
	GatewayPoolID        string          `json:"gateway_pool_id"`   // a Gatehouse extension
	UseAnnotations       json.RawMessage `json:"use_annotations_as_alias_metadata"`
}

func (a *API) writeConfig(rt authRoute) handlerFunc {
	return func(r *http.Request) (int, any, error) {
		var b configBody
		p, unknown, err := a.authedBody(r, &b)
		if err != nil {
			return 0, nil, err
		}
		in := vaultauth.ConfigInput{Host: b.KubernetesHost, CACert: b.KubernetesCACert, ReviewerJWT: secret.Secret(strings.TrimSpace(b.TokenReviewerJWT)),
			Issuer: b.Issuer, TokenReviewMode: b.TokenReviewMode, GatewayID: b.GatewayID, GatewayPoolID: b.GatewayPoolID}
		if in.PEMKeys, err = parseStringList("pem_keys", b.PEMKeys); err != nil {
			return 0, nil, err
		}
		if in.DisableISSValidation, err = parseBool("disable_iss_validation", b.DisableISSValidation); err != nil {
			return 0, nil, err
		}
		local, err := parseBool("disable_local_ca_jwt", b.DisableLocalCAJWT)
		if err != nil {
			return 0, nil, err
		}
		in.DisableLocalCAJWT = local != nil && *local
		annotations, err := parseBool("use_annotations_as_alias_metadata", b.UseAnnotations)
		if err != nil {
			return 0, nil, err
		}
		in.UseAnnotationsAsAliasMetadata = annotations != nil && *annotations
		warnings, err := a.Kubernetes.WriteConfig(r.Context(), p, rt.mount, in)
		if err != nil {
			return 0, nil, err
		}
		return writeAnswer(r, unknown, warnings...)
	}
}

func (a *API) readConfig(rt authRoute) handlerFunc {
	return func(r *http.Request) (int, any, error) {
		p, _, err := a.authenticate(r)
		if err != nil {
			return 0, nil, err
		}
		c, err := a.Kubernetes.ReadConfig(r.Context(), p, rt.mount)
		if err != nil {
			return 0, nil, err
		}
		if c.Host == "" && c.TokenReviewMode != kubeauth.ReviewGateway {
			return 0, nil, errs.New(errs.NotFound, "not configured")
		}
		resp := envelope(r)
		data := map[string]any{
			"kubernetes_host":                   c.Host,
			"kubernetes_ca_cert":                c.CACert,
			"pem_keys":                          c.PEMKeys,
			"issuer":                            c.Issuer,
			"disable_iss_validation":            c.DisableISSValidation,
			"disable_local_ca_jwt":              c.DisableLocalCAJWT,
			"token_reviewer_jwt_set":            c.ReviewerJWTSet,
			"token_review_mode":                 c.ReviewMode(),
			"use_annotations_as_alias_metadata": c.UseAnnotationsAsAliasMetadata,
		}
		// Gatehouse extensions, shown when set.
		if c.GatewayID != "" {
			data["gateway_id"] = c.GatewayID
		}
		if c.GatewayPoolID != "" {
			data["gateway_pool_id"] = c.GatewayPoolID
		}
		resp.Data = data
		return http.StatusOK, resp, nil
	}
}
