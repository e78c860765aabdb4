package console

import "net/http"

// owned by browser

func (c *Console) routesAudit(mux *http.ServeMux) {}
