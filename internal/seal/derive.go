package seal

import (
	"crypto/hkdf"
	"crypto/sha256"
)

// Derive returns a 32-byte subkey of k for one purpose (HKDF-SHA256 with
// the purpose as its info), so that the encryption key is never used
// directly for anything but sealing: servers sharing k derive the same
// subkey, and a subkey reveals nothing of k or of other purposes' subkeys.
// It panics on the zero Key.
func (k Key) Derive(purpose string) []byte {
	if k.k == nil {
		panic("seal: Derive on the zero Key")
	}
	out, err := hkdf.Key(sha256.New, k.k[:], nil, "gatehouse "+purpose, 32)
	if err != nil {
		panic("seal: " + err.Error()) // only for an output length HKDF cannot give
	}
	return out
}
