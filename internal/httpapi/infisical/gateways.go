package infisical

import (
	"io"
	"net"
	"net/http"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/errs"
	"github.com/gatehouse-dev/gatehouse/internal/gateway"
	"github.com/gatehouse-dev/gatehouse/internal/httpapi"
)

// Gateways: the connection a gateway opens (GET /api/v2/gateways/connect,
// upgraded), Infisical's gateway routes (/api/v2/gateways) and Gatehouse's
// own pool routes (/api/v1/gateway-pools). Reads need the member role,
// writes admin.
func (a *API) registerGateways(mux *http.ServeMux, handle func(string, func(*http.Request) (int, any, error))) {
	if a.Gateways == nil {
		return
	}
	mux.HandleFunc("GET "+gateway.ConnectPath, a.connectGateway)
	handle("GET /api/v2/gateways", a.listGateways)
	handle("GET /api/v2/gateways/{gatewayId}", a.getGateway)
	handle("DELETE /api/v2/gateways/{gatewayId}", a.deleteGateway)

	handle("POST /api/v1/gateway-pools", a.createGatewayPool)
	handle("GET /api/v1/gateway-pools", a.listGatewayPools)
	handle("GET /api/v1/gateway-pools/{poolId}", a.getGatewayPool)
	handle("PATCH /api/v1/gateway-pools/{poolId}", a.updateGatewayPool)
	handle("DELETE /api/v1/gateway-pools/{poolId}", a.deleteGatewayPool)
	handle("POST /api/v1/gateway-pools/{poolId}/memberships", a.addGatewayPoolMember)
	handle("DELETE /api/v1/gateway-pools/{poolId}/memberships/{gatewayId}", a.removeGatewayPoolMember)
}

// connectGateway authenticates a gateway, registers it and takes over its
// connection: 101 Switching Protocols, then a yamux session.
func (a *API) connectGateway(w http.ResponseWriter, r *http.Request) {
	fail := func(err error) { writeError(w, r, a.Logger, err) }
	if !gateway.IsUpgrade(r, gateway.UpgradeProtocol) {
		fail(errs.New(errs.BadRequest, "this endpoint takes a gateway's connection (Connection: Upgrade, Upgrade: %s); run `gatehouse gateway`", gateway.UpgradeProtocol))
		return
	}
	p, _, err := a.principal(r)
	if err != nil {
		fail(err)
		return
	}
	remote := r.RemoteAddr
	if ip := httpapi.ClientIP(r); ip.IsValid() {
		remote = ip.String()
	}
	gw, err := a.Gateways.Admit(r.Context(), p, gateway.Hello{
		Name: r.Header.Get(gateway.HeaderName), Pool: r.Header.Get(gateway.HeaderPool),
		Version: r.Header.Get(gateway.HeaderVersion), RemoteAddr: remote,
	})
	if err != nil {
		fail(err)
		return
	}
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		fail(errs.New(errs.BadRequest, "the gateway connection must be HTTP/1.1"))
		return
	}
	_ = conn.SetDeadline(time.Time{})
	// The session is registered before the answer is written: a gateway
	// that has it is usable at once.
	_ = a.Gateways.Attach(gw, &hijacked{Conn: conn, r: brw.Reader}, func() error {
		if _, err := io.WriteString(brw, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: "+gateway.UpgradeProtocol+
			"\r\n"+gateway.HeaderID+": "+gw.ID+"\r\n\r\n"); err != nil {
			return err
		}
		return brw.Flush()
	})
}

// hijacked reads first what the server had buffered.
type hijacked struct {
	net.Conn
	r io.Reader
}

func (h *hijacked) Read(p []byte) (int, error) { return h.r.Read(p) }

func gatewayJSON(v gateway.View) map[string]any {
	var pool any
	if v.PoolID != "" {
		pool = v.PoolID
	}
	return map[string]any{
		"id": v.ID, "name": v.Name, "identityId": v.IdentityID, "gatewayPoolId": pool,
		"version": v.Version, "remoteAddress": v.RemoteAddr, "connected": v.Connected,
		"connectedSince": formatTime(v.ConnectedAt), "heartbeat": formatTime(v.HeartbeatAt),
		"createdAt": formatTime(v.CreatedAt), "updatedAt": formatTime(v.UpdatedAt),
	}
}

func poolJSON(v gateway.PoolView) map[string]any {
	members := make([]map[string]any, 0, len(v.Members))
	connected := 0
	for _, m := range v.Members {
		members = append(members, gatewayJSON(m))
		if m.Connected {
			connected++
		}
	}
	return map[string]any{"id": v.ID, "name": v.Name, "gateways": members, "connectedCount": connected,
		"createdAt": formatTime(v.CreatedAt), "updatedAt": formatTime(v.UpdatedAt)}
}

func (a *API) listGateways(r *http.Request) (int, any, error) {
	p, _, err := a.principal(r)
	if err != nil {
		return 0, nil, err
	}
	gws, err := a.Gateways.List(r.Context(), p)
	if err != nil {
		return 0, nil, err
	}
	out := make([]map[string]any, 0, len(gws))
	for _, g := range gws {
		out = append(out, gatewayJSON(g))
	}
	return http.StatusOK, map[string]any{"gateways": out}, nil
}

func (a *API) getGateway(r *http.Request) (int, any, error) {
	p, _, err := a.principal(r)
	if err != nil {
		return 0, nil, err
	}
	g, err := a.Gateways.Get(r.Context(), p, r.PathValue("gatewayId"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"gateway": gatewayJSON(g)}, nil
}

func (a *API) deleteGateway(r *http.Request) (int, any, error) {
	p, _, err := a.principal(r)
	if err != nil {
		return 0, nil, err
	}
	g, err := a.Gateways.Delete(r.Context(), p, r.PathValue("gatewayId"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"gateway": gatewayJSON(g)}, nil
}

type poolBody struct {
	Name string `json:"name"`
}

func (a *API) createGatewayPool(r *http.Request) (int, any, error) {
	var body poolBody
	p, err := a.principalAndBody(r, &body)
	if err != nil {
		return 0, nil, err
	}
	v, err := a.Gateways.CreatePool(r.Context(), p, body.Name)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"gatewayPool": poolJSON(v)}, nil
}

func (a *API) listGatewayPools(r *http.Request) (int, any, error) {
	p, _, err := a.principal(r)
	if err != nil {
		return 0, nil, err
	}
	pools, err := a.Gateways.ListPools(r.Context(), p)
	if err != nil {
		return 0, nil, err
	}
	out := make([]map[string]any, 0, len(pools))
	for _, v := range pools {
		out = append(out, poolJSON(v))
	}
	return http.StatusOK, map[string]any{"gatewayPools": out}, nil
}

func (a *API) getGatewayPool(r *http.Request) (int, any, error) {
	p, _, err := a.principal(r)
	if err != nil {
		return 0, nil, err
	}
	v, err := a.Gateways.GetPool(r.Context(), p, r.PathValue("poolId"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"gatewayPool": poolJSON(v)}, nil
}

func (a *API) updateGatewayPool(r *http.Request) (int, any, error) {
	var body poolBody
	p, err := a.principalAndBody(r, &body)
	if err != nil {
		return 0, nil, err
	}
	v, err := a.Gateways.RenamePool(r.Context(), p, r.PathValue("poolId"), body.Name)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"gatewayPool": poolJSON(v)}, nil
}

func (a *API) deleteGatewayPool(r *http.Request) (int, any, error) {
	p, _, err := a.principal(r)
	if err != nil {
		return 0, nil, err
	}
	v, err := a.Gateways.DeletePool(r.Context(), p, r.PathValue("poolId"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"gatewayPool": poolJSON(v)}, nil
}

func (a *API) addGatewayPoolMember(r *http.Request) (int, any, error) {
	var body struct {
		GatewayID string `json:"gatewayId"`
	}
	p, err := a.principalAndBody(r, &body)
	if err != nil {
		return 0, nil, err
	}
	v, err := a.Gateways.AddMember(r.Context(), p, r.PathValue("poolId"), body.GatewayID)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"gatewayPool": poolJSON(v)}, nil
}

func (a *API) removeGatewayPoolMember(r *http.Request) (int, any, error) {
	p, _, err := a.principal(r)
	if err != nil {
		return 0, nil, err
	}
	v, err := a.Gateways.RemoveMember(r.Context(), p, r.PathValue("poolId"), r.PathValue("gatewayId"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"gatewayPool": poolJSON(v)}, nil
}
