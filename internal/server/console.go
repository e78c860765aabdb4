package server

import (
	"net/http"

	"github.com/gatehouse-dev/gatehouse/internal/console"
)

// mountConsole serves the web console at /ui/ unless cfg.DisableUI. The
// console calls the API through s.handler, the full middleware-wrapped
// handler, which is built after mux: hence the indirection.
func (s *Server) mountConsole(mux *http.ServeMux) {
	if s.cfg.DisableUI {
		return
	}
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) })
	ui := console.New(console.Config{API: api, Secure: s.tlsConf != nil, Now: s.cfg.Now, Logger: s.cfg.Logger})
	mux.Handle("/ui/", ui)
	mux.Handle("GET /ui", http.RedirectHandler("/ui/", http.StatusMovedPermanently))
}
