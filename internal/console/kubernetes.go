package console

import "net/http"

// owned by kubeui

func (c *Console) routesKubernetesAuth(mux *http.ServeMux) {}
