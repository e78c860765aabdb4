// Package seal encrypts secret material at rest (for example a Kubernetes
// token reviewer JWT kept in the store) under a server key that never enters
// the database.
//
// Sealed format, version 1:
//
//	0x01 | nonce (12 bytes, random) | AES-256-GCM ciphertext | tag (16 bytes)
//
// The version byte is authenticated along with the caller's additional data,
// so a later format cannot be confused with this one. Callers should pass as
// additional data what the plaintext belongs to (e.g. the auth method ID), so
// a sealed value copied to another row does not open there.
//
// Random 96-bit nonces are safe for about 2^32 seals under one key, far more
// than Gatehouse performs (one per auth-method configuration change).
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
)

// KeySize is the length of a key in bytes (AES-256).
const KeySize = 32

const (
	version1  = 0x01
	nonceSize = 12
	tagSize   = 16
	// Overhead is how many bytes Seal adds to the plaintext.
	Overhead = 1 + nonceSize + tagSize
)

// ErrOpen is returned by Open for any sealed value that does not open under
// the key and additional data: tampered, truncated, of an unknown version,
// sealed under another key or with other additional data. The causes are
// deliberately not told apart.
var ErrOpen = errors.New("seal: cannot open sealed value (wrong key, wrong additional data or tampered)")

// errNoKey is returned when a zero Key is used.
var errNoKey = errors.New("seal: zero Key (use NewKey, ParseKey or LoadKeyFile)")

// Key is a server key. The zero Key is not usable. A Key never prints its
// bytes: String, Format and LogValue show only its Fingerprint; Encode is
// the one way to get the key material out.
type Key struct {
	k    *[KeySize]byte
	aead cipher.AEAD
}

// NewKey returns a random key from crypto/rand.
func NewKey() (Key, error) {
	var b [KeySize]byte
	if _, err := io.ReadFull(rand.Reader, b[:]); err != nil {
		return Key{}, fmt.Errorf("seal: reading random bytes: %w", err)
	}
	return newKey(b[:])
}

func newKey(b []byte) (Key, error) {
	if len(b) != KeySize {
		return Key{}, fmt.Errorf("seal: key is %d bytes, want %d", len(b), KeySize)
	}
	var zero [KeySize]byte
	if hmac.Equal(b, zero[:]) {
		return Key{}, errors.New("seal: key is all zero bytes")
	}
	k := new([KeySize]byte)
	copy(k[:], b)
	block, err := aes.NewCipher(k[:])
	if err != nil {
		return Key{}, fmt.Errorf("seal: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return Key{}, fmt.Errorf("seal: %w", err)
	}
	return Key{k: k, aead: aead}, nil
}

// ParseKey parses a key written as standard base64 (padded or not), URL-safe
// base64 (padded or not) or 64 hexadecimal characters. Surrounding
// whitespace is ignored. The key must be exactly KeySize bytes and not all
// zero. Errors never contain the input.
func ParseKey(s string) (Key, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Key{}, errors.New("seal: key is empty")
	}
	if len(s) == 2*KeySize {
		if b, err := hex.DecodeString(s); err == nil {
			return newKey(b)
		}
	}
	for _, enc := range []*base64.Encoding{
		base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding,
	} {
		if b, err := enc.DecodeString(s); err == nil {
			if len(b) != KeySize {
				return Key{}, fmt.Errorf("%w; got %d characters of base64 (%d bytes)", errKeyForm, len(s), len(b))
			}
			return newKey(b)
		}
	}
	return Key{}, fmt.Errorf("%w; got %d characters that are neither", errKeyForm, len(s))
}

var errKeyForm = fmt.Errorf("seal: a key is %d bytes written as base64 (%d characters) or as %d hexadecimal characters",
	KeySize, base64.StdEncoding.EncodedLen(KeySize), 2*KeySize)

// Encode returns the key as standard base64 with padding, the form
// LoadOrCreateKeyFile writes and ParseKey reads. It reveals the key.
func (k Key) Encode() string {
	if k.k == nil {
		return ""
	}
	return base64.StdEncoding.EncodeToString(k.k[:])
}

// IsZero reports whether k is the zero Key.
func (k Key) IsZero() bool { return k.k == nil }

// Fingerprint returns a short identifier of the key that is safe to store
// and log: the first 8 bytes, in hex, of HMAC-SHA256(key, "gatehouse key
// check"). The server keeps it beside sealed data to notice at start that
// it was given a different key. It returns "" for the zero Key.
func (k Key) Fingerprint() string {
	if k.k == nil {
		return ""
	}
	m := hmac.New(sha256.New, k.k[:])
	m.Write([]byte("gatehouse key check"))
	return hex.EncodeToString(m.Sum(nil)[:8])
}

// String returns "seal.Key(<fingerprint>)", never the key.
func (k Key) String() string {
	if k.k == nil {
		return "seal.Key(zero)"
	}
	return "seal.Key(" + k.Fingerprint() + ")"
}

// GoString is String, for %#v.
func (k Key) GoString() string { return k.String() }

// Format writes String for every verb, so no verb prints the key's bytes.
func (k Key) Format(f fmt.State, verb rune) {
	s := k.String()
	if verb == 'q' {
		s = strconv.Quote(s)
	}
	_, _ = io.WriteString(f, s)
}

// LogValue logs only the fingerprint.
func (k Key) LogValue() slog.Value {
	return slog.GroupValue(slog.String("fingerprint", k.Fingerprint()))
}

// Seal encrypts and authenticates plaintext, binding additionalData (which
// is not stored and must be given again to Open). Each call uses a fresh
// random nonce, so sealing the same plaintext twice gives different output.
func (k Key) Seal(plaintext, additionalData []byte) ([]byte, error) {
	if k.k == nil {
		return nil, errNoKey
	}
	out := make([]byte, 1+nonceSize, Overhead+len(plaintext))
	out[0] = version1
	if _, err := io.ReadFull(rand.Reader, out[1:]); err != nil {
		return nil, fmt.Errorf("seal: reading random bytes: %w", err)
	}
	return k.aead.Seal(out, out[1:], plaintext, aad(version1, additionalData)), nil
}

// Open decrypts a value from Seal with the same additionalData. Any failure
// to authenticate is ErrOpen.
func (k Key) Open(sealed, additionalData []byte) ([]byte, error) {
	if k.k == nil {
		return nil, errNoKey
	}
	if len(sealed) < Overhead || sealed[0] != version1 {
		return nil, ErrOpen
	}
	nonce, box := sealed[1:1+nonceSize], sealed[1+nonceSize:]
	plaintext, err := k.aead.Open(nil, nonce, box, aad(version1, additionalData))
	if err != nil {
		return nil, ErrOpen
	}
	if plaintext == nil {
		plaintext = []byte{}
	}
	return plaintext, nil
}

// aad is the GCM additional data: the version byte, then the caller's.
func aad(version byte, additionalData []byte) []byte {
	b := make([]byte, 0, 1+len(additionalData))
	return append(append(b, version), additionalData...)
}
