package console

import "net/http"

func (c *Console) routesUniversalAuth(mux *http.ServeMux) {}
