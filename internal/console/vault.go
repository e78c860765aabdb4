package console

import "net/http"

// owned by kubeui

func (c *Console) routesVault(mux *http.ServeMux) {}
