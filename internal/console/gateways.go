package console

import "net/http"

// owned by kubeui

func (c *Console) routesGateways(mux *http.ServeMux) {}
