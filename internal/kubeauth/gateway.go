package kubeauth

import (
	"context"
	"encoding/json"
	"net"
	"net/http"

	authv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gatehouse-dev/gatehouse/internal/errs"
	"github.com/gatehouse-dev/gatehouse/internal/gateway"
)

// Gateways carries calls to clusters through their gateways (package
// gateway's Service). Its errors are domain errors with the gateway's own
// names (unknown, not connected, timed out, connection lost, relay
// refused), passed to the caller as they are.
type Gateways interface {
	// Review has the gateway post a TokenReview with its own token and
	// returns its API server's answer.
	Review(ctx context.Context, gatewayID, poolID string, body []byte) (gateway.Answer, error)
	// Dial opens a TCP relay through the gateway to addr.
	Dial(ctx context.Context, gatewayID, poolID, addr string) (net.Conn, error)
}

// UseGateways lets logins reach clusters through gateways: gateway mode
// (the gateway reviews), and api or local mode with gatewayId or
// gatewayPoolId (the gateway relays TCP to kubernetesHost). Call it before
// serving.
func (s *Service) UseGateways(g Gateways) {
	s.gateways = g
	s.api.gateways = g
}

// throughGateway reports whether calls to c's API server go through a
// gateway.
func (c Cluster) throughGateway() bool { return c.GatewayID != "" || c.GatewayPoolID != "" }

// gatewayReview is gateway mode's review: the gateway posts it with its
// own service-account token to its in-cluster API server.
func (s *Service) gatewayReview(ctx context.Context, c Cluster, req reviewRequest) (authv1.TokenReviewStatus, error) {
	if s.gateways == nil {
		return authv1.TokenReviewStatus{}, errs.New(errs.NotImplemented, "gateways are not enabled on this server")
	}
	body, err := json.Marshal(authv1.TokenReview{
		TypeMeta: metav1.TypeMeta{Kind: "TokenReview", APIVersion: "authentication.k8s.io/v1"},
		Spec:     authv1.TokenReviewSpec{Token: req.token.Reveal(), Audiences: req.audiences},
	})
	if err != nil {
		return authv1.TokenReviewStatus{}, errs.Wrap(err, "encoding TokenReview")
	}
	ans, err := s.gateways.Review(ctx, c.GatewayID, c.GatewayPoolID, body)
	if err != nil {
		return authv1.TokenReviewStatus{}, err
	}
	where := "gateway " + c.GatewayID
	if c.GatewayPoolID != "" {
		where = "a gateway of pool " + c.GatewayPoolID
	}
	switch {
	case ans.Code == http.StatusUnauthorized:
		return authv1.TokenReviewStatus{}, errs.Because(errs.Unauthenticated, gateway.ErrReviewerRejected,
			"the API server of %s rejected the gateway's own service-account token (HTTP 401)%s: check the gateway's token file", where, apiMessage(ans.Body))
	case ans.Code == http.StatusForbidden:
		return authv1.TokenReviewStatus{}, errs.Because(errs.Unauthenticated, forbidden(gateway.ErrReviewerRejected),
			"the service account of %s lacks the system:auth-delegator ClusterRole binding: its API server answered HTTP 403 to the TokenReview%s; bind it to system:auth-delegator", where, apiMessage(ans.Body))
	case ans.Code < 200 || ans.Code > 299:
		return authv1.TokenReviewStatus{}, errs.Because(errs.BadGateway, ErrAPI,
			"the API server of %s answered the TokenReview with HTTP %d%s", where, ans.Code, apiMessage(ans.Body))
	}
	var tr authv1.TokenReview
	if err := json.Unmarshal(ans.Body, &tr); err != nil || (tr.Kind != "" && tr.Kind != "TokenReview") {
		return authv1.TokenReviewStatus{}, errs.Because(errs.BadGateway, ErrAPI,
			"the API server of %s answered the TokenReview with something that is not a TokenReview (%s)", where, describeBody(ans.ContentType, ans.Body))
	}
	return tr.Status, nil
}

// relayDial is the DialContext of a cluster reached through a gateway:
// each connection is a TCP relay through it, TLS end to end.
func (ac *apiClient) relayDial(c Cluster) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, _, addr string) (net.Conn, error) {
		if ac.gateways == nil {
			return nil, errs.New(errs.NotImplemented, "gateways are not enabled on this server")
		}
		return ac.gateways.Dial(ctx, c.GatewayID, c.GatewayPoolID, addr)
	}
}
