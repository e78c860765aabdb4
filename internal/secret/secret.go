// Package secret is the format of the bearer credentials Gatehouse hands
// out: access tokens and Universal Auth client secrets. It is modelled on
// GitHub's token format:
//
//	<kind prefix><body>
//	gth_4QxZ...   access token  (53 characters)
//	gtcs_0bK7...  client secret (54 characters)
//
// The body is BodyLen (49) base62 characters: 256 bits from crypto/rand,
// encoded as a 43-character big-endian base62 number, followed by the CRC-32
// (IEEE) of those 32 random bytes, encoded as a 6-character base62 number.
// Both parts are zero-padded to their fixed width, so every credential of a
// kind has the same length and the encoding is one-to-one. Encoding the two
// parts separately (as GitHub does) keeps the first body characters
// near-uniform, which makes Prefix useful for display.
//
// Parse checks shape, prefix, length, alphabet and checksum without any store
// access, so typos, truncation and credentials of the wrong kind are turned
// away before a database lookup. The checksum is not a MAC: it detects
// accidents, not forgeries; authenticity comes only from the store lookup by
// Hash.
//
// A Secret redacts itself in every fmt verb, in log/slog and in
// encoding.TextMarshaler (so encoding/json too). Reveal is the one way to get
// the raw value, for the response that hands the credential to its owner.
package secret

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"strconv"
	"strings"
)

// Prefixes of the credential kinds. They contain an underscore so that a
// double click selects the whole credential and secret scanners can match
// them with a simple pattern.
const (
	PrefixAccessToken  = "gth_"  // "gatehouse token"
	PrefixClientSecret = "gtcs_" // "gatehouse client secret"
)

// Kind is a kind of credential. The zero Kind is not valid.
type Kind uint8

const (
	KindAccessToken Kind = iota + 1
	KindClientSecret
)

// Prefix returns the kind's prefix, or "" for an unknown kind.
func (k Kind) Prefix() string {
	switch k {
	case KindAccessToken:
		return PrefixAccessToken
	case KindClientSecret:
		return PrefixClientSecret
	}
	return ""
}

// Len returns the length of a credential of this kind, or 0 for an unknown
// kind.
func (k Kind) Len() int {
	p := k.Prefix()
	if p == "" {
		return 0
	}
	return len(p) + BodyLen
}

// String returns a name for people ("access token", "client secret").
func (k Kind) String() string {
	switch k {
	case KindAccessToken:
		return "access token"
	case KindClientSecret:
		return "client secret"
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// kindOf returns the kind whose prefix s starts with.
func kindOf(s string) Kind {
	switch {
	case strings.HasPrefix(s, PrefixAccessToken):
		return KindAccessToken
	case strings.HasPrefix(s, PrefixClientSecret):
		return KindClientSecret
	}
	return 0
}

const (
	randomBytes = 32 // 256 bits of entropy
	randomChars = 43 // ceil(256 / log2(62))
	sumBytes    = 4  // CRC-32
	sumChars    = 6  // ceil(32 / log2(62))

	// BodyLen is the number of base62 characters after the kind prefix.
	BodyLen = randomChars + sumChars

	// MaxDisplayPrefix is the most body characters Prefix reveals (about
	// 48 bits, leaving over 200 bits unknown).
	MaxDisplayPrefix = 8
)

// Sentinel errors returned (wrapped in a *ParseError) by Parse.
var (
	// ErrMalformed: wrong prefix, length or alphabet, or a number out of
	// range; the string is not a credential of the kind asked for.
	ErrMalformed = errors.New("malformed credential")
	// ErrChecksum: the string has the right shape but its checksum does not
	// match (a typo or a truncated copy and paste that kept the length).
	ErrChecksum = errors.New("credential checksum mismatch")
)

// ParseError says why Parse rejected a string. It never holds the string.
// errors.Is(err, ErrMalformed) or errors.Is(err, ErrChecksum) is true for
// every ParseError.
type ParseError struct {
	Kind   Kind   // the kind asked for
	Reason string // e.g. "wrong prefix", "wrong length"
	Err    error  // ErrMalformed or ErrChecksum
}

func (e *ParseError) Error() string {
	return "secret: " + e.Kind.String() + ": " + e.Err.Error() + ": " + e.Reason
}

// Unwrap returns ErrMalformed or ErrChecksum.
func (e *ParseError) Unwrap() error { return e.Err }

// Secret is a credential. Its String, Format, GoString, LogValue and
// MarshalText methods return a redacted form such as "gth_…REDACTED" (the
// kind prefix, when known, and nothing of the body; "" for an empty Secret).
// Use Reveal for the raw value.
type Secret string

// Generate returns a new credential of the kind, from crypto/rand.
func Generate(kind Kind) (Secret, error) {
	return generate(kind, rand.Reader)
}

func generate(kind Kind, r io.Reader) (Secret, error) {
	prefix := kind.Prefix()
	if prefix == "" {
		return "", fmt.Errorf("secret: cannot generate %v", kind)
	}
	var random [randomBytes]byte
	if _, err := io.ReadFull(r, random[:]); err != nil {
		return "", fmt.Errorf("secret: reading random bytes: %w", err)
	}
	return Secret(encode(prefix, &random)), nil
}

// encode returns prefix + base62(random, 43) + base62(crc32(random), 6).
func encode(prefix string, random *[randomBytes]byte) string {
	var sum [sumBytes]byte
	binary.BigEndian.PutUint32(sum[:], crc32.ChecksumIEEE(random[:]))
	buf := make([]byte, len(prefix)+BodyLen)
	n := copy(buf, prefix)
	encodeFixed(buf[n:n+randomChars], random[:])
	encodeFixed(buf[n+randomChars:], sum[:])
	return string(buf)
}

// Parse checks that s is a well-formed credential of the kind, with a valid
// checksum, and returns it as a Secret. s must match exactly: no surrounding
// space is trimmed. The error is a *ParseError wrapping ErrMalformed or
// ErrChecksum; it never contains s.
func Parse(kind Kind, s string) (Secret, error) {
	_, err := decode(kind, s)
	if err != nil {
		return "", err
	}
	return Secret(s), nil
}

// decode validates s and returns its random bytes.
func decode(kind Kind, s string) (random [randomBytes]byte, err error) {
	fail := func(reason string, sentinel error) error {
		return parseError(kind, reason, sentinel)
	}
	prefix := kind.Prefix()
	switch {
	case prefix == "":
		return random, fail("unknown kind", ErrMalformed)
	case !strings.HasPrefix(s, prefix):
		return random, fail("wrong prefix", ErrMalformed)
	case len(s) != len(prefix)+BodyLen:
		return random, fail("wrong length", ErrMalformed)
	}
	body := s[len(prefix):]
	for i := 0; i < len(body); i++ {
		if decodeTable[body[i]] == invalid {
			return random, fail("character outside base62", ErrMalformed)
		}
	}
	var sum [sumBytes]byte
	if !decodeFixed(random[:], body[:randomChars]) || !decodeFixed(sum[:], body[randomChars:]) {
		return random, fail("value out of range", ErrMalformed)
	}
	if binary.BigEndian.Uint32(sum[:]) != crc32.ChecksumIEEE(random[:]) {
		return random, fail("checksum does not match", ErrChecksum)
	}
	return random, nil
}

// parseError is outside decode so that the success path does not allocate.
func parseError(kind Kind, reason string, sentinel error) error {
	return &ParseError{Kind: kind, Reason: reason, Err: sentinel}
}

// Reveal returns the raw credential. It is the only way to get it; call it
// only to hand the credential to its owner or to send it to a server.
func (s Secret) Reveal() string { return string(s) }

// Kind returns the kind whose prefix s carries, or 0 when it carries none.
// It does not validate the rest of s.
func (s Secret) Kind() Kind { return kindOf(string(s)) }

// Hash returns the SHA-256 of the whole credential (prefix included): the
// key under which the store keeps it.
func (s Secret) Hash() [32]byte {
	var buf [64]byte // credentials fit: hash without a heap allocation
	return sha256.Sum256(append(buf[:0], s...))
}

// Prefix returns the kind prefix followed by the first n characters of the
// body, e.g. "gth_4QxZ" for n = 4, to show a credential in listings without
// revealing it. n is clamped to [0, MaxDisplayPrefix] and to the body's
// length. Prefix returns "" when s has no known kind prefix.
func (s Secret) Prefix(n int) string {
	p := s.Kind().Prefix()
	if p == "" {
		return ""
	}
	n = max(0, min(n, MaxDisplayPrefix, len(s)-len(p)))
	return string(s[:len(p)+n])
}

// redacted is what every printing method shows.
func (s Secret) redacted() string {
	if s == "" {
		return ""
	}
	return s.Kind().Prefix() + "…REDACTED"
}

// String returns the redacted form.
func (s Secret) String() string { return s.redacted() }

// GoString returns the redacted form, for %#v.
func (s Secret) GoString() string { return s.redacted() }

// Format writes the redacted form for every verb (%q quotes it).
func (s Secret) Format(f fmt.State, verb rune) {
	r := s.redacted()
	if verb == 'q' {
		r = strconv.Quote(r)
	}
	_, _ = io.WriteString(f, r)
}

// LogValue returns the redacted form, for log/slog.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.redacted()) }

// MarshalText returns the redacted form, so that encoding/json and other
// encoders never write the credential. Marshal s.Reveal() to send it.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.redacted()), nil }

// Equal reports whether a and b are equal, in time that depends only on
// their lengths.
func Equal(a, b []byte) bool { return subtle.ConstantTimeCompare(a, b) == 1 }
