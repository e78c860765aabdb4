// Package gateway is Gatehouse's gateways: small Gatehouse processes
// deployed inside clusters whose API servers the server cannot reach. A
// gateway dials out to the server over HTTPS, upgrades that one HTTP/1.1
// connection (101 Switching Protocols) and multiplexes it with
// hashicorp/yamux. On that session the gateway runs an HTTP server that
// answers only what the server may ask: a TokenReview made with the
// gateway's own service-account token, the cluster's issuer discovery
// documents, and CONNECT relays to its API server (or hosts of an explicit
// allow list). The server side (Service) authenticates and registers
// gateways, keeps the live sessions, spreads calls over a pool's connected
// members and fails over; the gateway side (Agent) connects, serves and
// reconnects with capped exponential backoff and jitter.
//
// Files: protocol.go (the wire contract), service.go (records, pools,
// permissions), registry.go (live sessions, selection, failover), agent.go
// (the gateway process's loop), handler.go (what the gateway serves).
package gateway

import (
	"errors"
	"time"
)

// The connection: the gateway sends GET ConnectPath with "Connection:
// Upgrade", "Upgrade: UpgradeProtocol", its access token as the bearer and
// the Header* values; the server answers 101 with HeaderID, and from then
// on the connection carries a yamux session on which the server opens
// streams and the gateway accepts them.
const (
	ConnectPath     = "/api/v2/gateways/connect"
	UpgradeProtocol = "gatehouse-gateway/1"

	HeaderName    = "Gatehouse-Gateway-Name"
	HeaderPool    = "Gatehouse-Gateway-Pool"
	HeaderVersion = "Gatehouse-Gateway-Version"
	HeaderID      = "Gatehouse-Gateway-Id"
)

// What the gateway serves on the session (plain HTTP/1.1 on each stream):
//   - POST ReviewPath with a TokenReview body: the gateway posts it to its
//     API server with its own service-account token as the bearer and
//     answers the API server's status and body as they are;
//   - GET DiscoveryPath and JWKSPath: the same, for the issuer discovery
//     documents;
//   - CONNECT host:port: a TCP relay, only to the API server's host:port or
//     a host of the gateway's allow list; 403 otherwise.
//
// When the gateway cannot get an answer from its API server it answers
// 502 with HeaderUpstreamError set and a JSON {"message": ...}.
const (
	ReviewPath          = "/gatehouse/v1/tokenreview"
	DiscoveryPath       = "/.well-known/openid-configuration"
	JWKSPath            = "/openid/v1/jwks"
	HeaderUpstreamError = "Gatehouse-Gateway-Upstream-Error"
)

// Defaults.
const (
	DefaultHeartbeat = 10 * time.Second
	DefaultTimeout   = 10 * time.Second
	// maxAnswerBytes caps what is read of a gateway's answer.
	maxAnswerBytes = 256 << 10
	// MaxNameLen bounds a gateway or pool name.
	MaxNameLen = 64
)

// Which failure a gateway call met: the cause (errors.Is) of the domain
// error returned; each front end words them its own way.
var (
	ErrNotFound       = errors.New("gateway: not found")
	ErrNotConnected   = errors.New("gateway: not connected")
	ErrConnectionLost = errors.New("gateway: connection lost during the call")
	ErrTimeout        = errors.New("gateway: no answer in time")
	ErrRelayRefused   = errors.New("gateway: relay refused by its allow list")
	// ErrUpstream: the gateway could not get an answer from its API server.
	ErrUpstream  = errors.New("gateway: its Kubernetes API server failed")
	ErrForbidden = errors.New("gateway: not allowed")
	ErrInUse     = errors.New("gateway: in use by a Kubernetes Auth configuration")
	// ErrReviewerRejected: the gateway's own TokenReview was refused (its
	// service account lacks system:auth-delegator, or its token is bad).
	ErrReviewerRejected = errors.New("gateway: its token reviewer was refused")
)

// MetadataKey is the identity metadata entry that lets a machine identity
// act as a gateway (value "true"); identities with the admin role may too.
const MetadataKey = "gatehouse-gateway"
