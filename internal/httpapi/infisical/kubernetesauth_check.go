package infisical

import (
	"net/http"

	"github.com/gatehouse-dev/gatehouse/internal/kubeauth"
)

// connectionTestJSON is the answer of a Kubernetes Auth connection test
// (a Gatehouse extension). A failed test is still a 200: the request was
// fine, the configuration is what failed, and ok/problem/message say how.
type connectionTestJSON struct {
	OK              bool                `json:"ok"`
	TokenReviewMode kubeauth.ReviewMode `json:"tokenReviewMode"`
	KubernetesHost  *string             `json:"kubernetesHost"`
	GatewayID       *string             `json:"gatewayId"`
	GatewayPoolID   *string             `json:"gatewayPoolId"`
	Checked         string              `json:"checked"`
	Problem         *string             `json:"problem"`
	Message         string              `json:"message"`
	Warning         *string             `json:"warning"`
	CheckedAt       *string             `json:"checkedAt"`
}

// testKubernetesAuthConnection runs the attach check against an
// identity's stored configuration. It takes no body (any is ignored).
func (a *API) testKubernetesAuthConnection(r *http.Request) (int, any, error) {
	p, _, err := a.principal(r)
	if err != nil {
		return 0, nil, err
	}
	res, err := a.KubernetesAuth.Check(r.Context(), p, r.PathValue("identityId"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]connectionTestJSON{"connectionTest": {
		OK: res.OK, TokenReviewMode: res.Mode, KubernetesHost: nullIfEmpty(res.Host),
		GatewayID: nullIfEmpty(res.Gateway), GatewayPoolID: nullIfEmpty(res.Pool),
		Checked: res.Checked, Problem: nullIfEmpty(string(res.Problem)), Message: res.Message,
		Warning: nullIfEmpty(res.Warning), CheckedAt: formatTime(res.CheckedAt),
	}}, nil
}
