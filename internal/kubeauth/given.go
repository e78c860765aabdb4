package kubeauth

import "cmp"

// The Infisical API returns what it was sent, so that a client comparing
// state after a write (Terraform) sees no drift; logins use the parsed
// forms. Configs stored before the given forms were kept show the parsed
// ones.

// HostAsGiven is the host as sent.
func (c Cluster) HostAsGiven() string { return cmp.Or(c.HostGiven, c.Host) }

// NamespacesAsGiven is allowedNamespaces as sent.
func (r Rules) NamespacesAsGiven() string { return cmp.Or(r.NamespacesGiven, r.Namespaces.String()) }

// NamesAsGiven is allowedNames as sent.
func (r Rules) NamesAsGiven() string { return cmp.Or(r.NamesGiven, r.Names.String()) }

// Gateway reports whether API requests are to go through a gateway
// (gatewayId or gatewayPoolId set).
func (c Cluster) Gateway() bool { return c.GatewayID != "" || c.GatewayPoolID != "" }
