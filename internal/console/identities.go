package console

import "net/http"

func (c *Console) routesIdentities(mux *http.ServeMux) {}
