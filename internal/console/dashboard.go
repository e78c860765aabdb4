package console

import "net/http"

// owned by browser

func (c *Console) routesDashboard(mux *http.ServeMux) {}
