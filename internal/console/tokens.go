package console

import "net/http"

func (c *Console) routesTokens(mux *http.ServeMux) {}
