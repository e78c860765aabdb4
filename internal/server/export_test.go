package server

import "github.com/gatehouse-dev/gatehouse/internal/store"

// WithStoreWrapper returns cfg with wrap applied to the store the server
// opens, under its timeouts and cache: tests inject store faults with it.
func WithStoreWrapper(cfg Config, wrap func(store.Store) store.Store) Config {
	cfg.wrapStore = wrap
	return cfg
}
