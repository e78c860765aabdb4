package server

import (
	"net/http"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/console"
	"github.com/gatehouse-dev/gatehouse/internal/httpapi"
)

// mountConsole serves the web console at /ui/ unless cfg.DisableUI. The
// console calls the API through s.handler, the full middleware-wrapped
// handler, which is built after mux: hence the indirection. Its sessions
// live in the store (sealed with the server key), so that every replica
// sharing the store knows them.
func (s *Server) mountConsole(mux *http.ServeMux, auditLog *audit.Log) {
	if s.cfg.DisableUI {
		return
	}
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) })
	ui := console.New(console.Config{API: api, Secure: s.tlsConf != nil, Now: s.cfg.Now, Logger: s.cfg.Logger,
		Sessions: s.store, Key: s.key, Audit: auditLog, ClientIP: consoleClientIP})
	mux.Handle("/ui/", ui)
	mux.Handle("GET /ui", http.RedirectHandler("/ui/", http.StatusMovedPermanently))
}

// consoleClientIP is the client address the middleware resolved, as the
// API's audit events write it.
func consoleClientIP(r *http.Request) string {
	if a := httpapi.ClientIP(r); a.IsValid() {
		return a.String()
	}
	return "unknown"
}
