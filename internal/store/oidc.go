package store

import "time"

// SigningKey is one key that signs the JWTs Gatehouse issues as an OpenID
// Connect issuer (internal/oidc). It is published (in the JWKS) from
// CreatedAt until the oidc package deletes it, and signs from ActiveAt on,
// until a later key becomes active.
type SigningKey struct {
	ID        string // the JWK "kid"; unique
	Algorithm string // JOSE name: "ES256", "RS256"
	// SealedPrivate is the private key, sealed by the caller with the
	// server key. Never nil.
	SealedPrivate []byte
	CreatedAt     time.Time
	ActiveAt      time.Time
}

// OIDCRole is a role of the Vault-shaped identity token endpoint: the
// audience and lifetime of the JWTs minted under its name.
type OIDCRole struct {
	Name      string // unique
	Audience  string // Vault's client_id
	TTL       int64  // seconds
	CreatedAt time.Time
	UpdatedAt time.Time
}
