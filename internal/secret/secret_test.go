package secret

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"log/slog"
	"math/big"
	"math/rand/v2"
	"strings"
	"testing"
)

var kinds = []Kind{KindAccessToken, KindClientSecret}

// fixedReader returns a deterministic stream of bytes.
func fixedReader(seed uint64) *rand.ChaCha8 {
	var s [32]byte
	binary.LittleEndian.PutUint64(s[:], seed)
	return rand.NewChaCha8(s)
}

func mustGenerate(t testing.TB, kind Kind, seed uint64) Secret {
	t.Helper()
	s, err := generate(kind, fixedReader(seed))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestGenerateParseRoundTrip(t *testing.T) {
	t.Parallel()
	tests := []struct {
		kind    Kind
		prefix  string
		wantLen int
	}{
		{KindAccessToken, "gth_", 53},
		{KindClientSecret, "gtcs_", 54},
	}
	for _, tt := range tests {
		t.Run(tt.kind.String(), func(t *testing.T) {
			t.Parallel()
			if got := tt.kind.Len(); got != tt.wantLen {
				t.Errorf("Len() = %d, want %d", got, tt.wantLen)
			}
			seen := map[Secret]bool{}
			for range 200 {
				s, err := Generate(tt.kind)
				if err != nil {
					t.Fatal(err)
				}
				raw := s.Reveal()
				if len(raw) != tt.wantLen {
					t.Fatalf("len = %d, want %d", len(raw), tt.wantLen)
				}
				if !strings.HasPrefix(raw, tt.prefix) {
					t.Fatalf("missing prefix %q", tt.prefix)
				}
				if s.Kind() != tt.kind {
					t.Fatalf("Kind() = %v", s.Kind())
				}
				got, err := Parse(tt.kind, raw)
				if err != nil {
					t.Fatalf("Parse(Generate()) = %v", err)
				}
				if got != s {
					t.Fatal("Parse changed the value")
				}
				if seen[s] {
					t.Fatal("duplicate credential")
				}
				seen[s] = true
			}
		})
	}
}

// refEncode is a math/big reference for encodeFixed.
func refEncode(src []byte, width int) string {
	n := new(big.Int).SetBytes(src)
	out := make([]byte, width)
	base, rem := big.NewInt(62), new(big.Int)
	for i := width - 1; i >= 0; i-- {
		n.DivMod(n, base, rem)
		out[i] = alphabet[rem.Int64()]
	}
	if n.Sign() != 0 {
		panic("width too small")
	}
	return string(out)
}

func TestEncodingMatchesMathBig(t *testing.T) {
	t.Parallel()
	inputs := [][randomBytes]byte{{}, {0: 1}, {31: 1}}
	var ones [randomBytes]byte
	for i := range ones {
		ones[i] = 0xff
	}
	inputs = append(inputs, ones)
	r := fixedReader(1)
	for range 100 {
		var b [randomBytes]byte
		_, _ = r.Read(b[:])
		inputs = append(inputs, b)
	}
	for _, random := range inputs {
		var sum [4]byte
		binary.BigEndian.PutUint32(sum[:], crc32.ChecksumIEEE(random[:]))
		want := PrefixAccessToken + refEncode(random[:], randomChars) + refEncode(sum[:], sumChars)
		got := encode(PrefixAccessToken, &random)
		if got != want {
			t.Fatalf("encode(%x) = %s, want %s", random, got, want)
		}
		back, err := decode(KindAccessToken, got)
		if err != nil || back != random {
			t.Fatalf("decode(encode(%x)) = %x, %v", random, back, err)
		}
	}
}

func TestGenerateErrors(t *testing.T) {
	t.Parallel()
	if _, err := Generate(0); err == nil {
		t.Error("Generate(0): no error")
	}
	if _, err := Generate(Kind(9)); err == nil {
		t.Error("Generate(9): no error")
	}
	if _, err := generate(KindAccessToken, strings.NewReader("short")); err == nil {
		t.Error("generate with a short reader: no error")
	}
}

// replaceAt returns s with the byte at i replaced by c.
func replaceAt(s string, i int, c byte) string {
	b := []byte(s)
	b[i] = c
	return string(b)
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	tok := mustGenerate(t, KindAccessToken, 7).Reveal()
	cs := mustGenerate(t, KindClientSecret, 7).Reveal()
	body := tok[len(PrefixAccessToken):]
	lastFlipped := tok[:len(tok)-1] + string(alphabet[(strings.IndexByte(alphabet, tok[len(tok)-1])+1)%62])
	// The random part's top digit is below 62^43 / 2^256 ≈ 61; "z" there
	// makes the number too big.
	tooBig := PrefixAccessToken + strings.Repeat("z", BodyLen)

	tests := []struct {
		name   string
		kind   Kind
		in     string
		want   error
		reason string
	}{
		{"empty", KindAccessToken, "", ErrMalformed, "wrong prefix"},
		{"prefix only", KindAccessToken, "gth_", ErrMalformed, "wrong length"},
		{"no prefix", KindAccessToken, body, ErrMalformed, "wrong prefix"},
		{"client secret as access token", KindAccessToken, cs, ErrMalformed, "wrong prefix"},
		{"access token as client secret", KindClientSecret, tok, ErrMalformed, "wrong prefix"},
		{"upper-case prefix", KindAccessToken, "GTH_" + body, ErrMalformed, "wrong prefix"},
		{"GitHub prefix", KindAccessToken, "ghp_" + body, ErrMalformed, "wrong prefix"},
		{"short", KindAccessToken, tok[:len(tok)-1], ErrMalformed, "wrong length"},
		{"long", KindAccessToken, tok + "0", ErrMalformed, "wrong length"},
		{"doubled", KindAccessToken, tok + tok, ErrMalformed, "wrong length"},
		{"leading space", KindAccessToken, " " + tok, ErrMalformed, "wrong prefix"},
		{"trailing newline", KindAccessToken, tok + "\n", ErrMalformed, "wrong length"},
		{"bearer scheme", KindAccessToken, "Bearer " + tok, ErrMalformed, "wrong prefix"},
		{"dash", KindAccessToken, replaceAt(tok, 10, '-'), ErrMalformed, "character outside base62"},
		{"underscore", KindAccessToken, replaceAt(tok, 10, '_'), ErrMalformed, "character outside base62"},
		{"space", KindAccessToken, replaceAt(tok, 20, ' '), ErrMalformed, "character outside base62"},
		{"NUL", KindAccessToken, replaceAt(tok, len(tok)-1, 0), ErrMalformed, "character outside base62"},
		{"high byte", KindAccessToken, replaceAt(tok, 30, 0xc3), ErrMalformed, "character outside base62"},
		{"non-ASCII same byte length", KindAccessToken, tok[:len(tok)-2] + "é", ErrMalformed, "character outside base62"},
		{"random part out of range", KindAccessToken, tooBig, ErrMalformed, "value out of range"},
		{"checksum out of range", KindAccessToken, tok[:len(tok)-sumChars] + "zzzzzz", ErrMalformed, "value out of range"},
		{"last character changed", KindAccessToken, lastFlipped, ErrChecksum, "checksum does not match"},
		{"checksum zeroed", KindAccessToken, tok[:len(tok)-sumChars] + "000000", ErrChecksum, "checksum does not match"},
		{"first body character changed", KindAccessToken, replaceAt(tok, 4, flip(tok[4])), ErrChecksum, "checksum does not match"},
		{"unknown kind", Kind(0), tok, ErrMalformed, "unknown kind"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Parse(tt.kind, tt.in)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Parse error = %v, want %v", err, tt.want)
			}
			if got != "" {
				t.Errorf("Parse returned %q with an error", got.Reveal())
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %T is not a *ParseError", err)
			}
			if pe.Reason != tt.reason {
				t.Errorf("Reason = %q, want %q", pe.Reason, tt.reason)
			}
			if pe.Kind != tt.kind {
				t.Errorf("Kind = %v, want %v", pe.Kind, tt.kind)
			}
			if len(tt.in) > 8 && strings.Contains(err.Error(), tt.in[4:]) {
				t.Errorf("error %q contains the input", err)
			}
		})
	}
}

// flip returns a different base62 digit that keeps the number in range
// for the top digit of the random part.
func flip(c byte) byte {
	if c == '0' {
		return '1'
	}
	return '0'
}

// TestParseEverySingleCharacterChange changes each body character of a few
// credentials to every other base62 digit: none may parse.
func TestParseEverySingleCharacterChange(t *testing.T) {
	t.Parallel()
	for seed := range uint64(4) {
		for _, kind := range kinds {
			tok := mustGenerate(t, kind, seed).Reveal()
			checksumErrs := 0
			for i := len(kind.Prefix()); i < len(tok); i++ {
				for j := 0; j < len(alphabet); j++ {
					c := alphabet[j]
					if c == tok[i] {
						continue
					}
					_, err := Parse(kind, replaceAt(tok, i, c))
					switch {
					case errors.Is(err, ErrChecksum):
						checksumErrs++
					case errors.Is(err, ErrMalformed):
						// Only an out-of-range value may be malformed here.
						if pe := (*ParseError)(nil); !errors.As(err, &pe) || pe.Reason != "value out of range" {
							t.Fatalf("position %d → %c: %v", i, c, err)
						}
					default:
						t.Fatalf("position %d → %c: Parse error = %v", i, c, err)
					}
				}
			}
			if checksumErrs < (len(tok)-len(kind.Prefix()))*50 {
				t.Errorf("only %d checksum errors", checksumErrs)
			}
		}
	}
}

func TestHash(t *testing.T) {
	t.Parallel()
	a := mustGenerate(t, KindAccessToken, 1)
	b := mustGenerate(t, KindAccessToken, 2)
	if a.Hash() != sha256.Sum256([]byte(a.Reveal())) {
		t.Error("Hash is not SHA-256 of the raw value")
	}
	if a.Hash() == b.Hash() {
		t.Error("different secrets, same hash")
	}
	if a.Hash() != a.Hash() {
		t.Error("Hash is not deterministic")
	}
	// The prefix is part of what is hashed.
	c := Secret(PrefixClientSecret + a.Reveal()[len(PrefixAccessToken):])
	if a.Hash() == c.Hash() {
		t.Error("hash ignores the prefix")
	}
}

func TestPrefix(t *testing.T) {
	t.Parallel()
	tok := mustGenerate(t, KindAccessToken, 3)
	raw := tok.Reveal()
	cs := mustGenerate(t, KindClientSecret, 3)
	tests := []struct {
		name string
		s    Secret
		n    int
		want string
	}{
		{"zero", tok, 0, "gth_"},
		{"four", tok, 4, raw[:8]},
		{"max", tok, MaxDisplayPrefix, raw[:4+MaxDisplayPrefix]},
		{"clamped high", tok, 1000, raw[:4+MaxDisplayPrefix]},
		{"clamped low", tok, -1, "gth_"},
		{"client secret", cs, 4, cs.Reveal()[:9]},
		{"short value", Secret("gth_ab"), 6, "gth_ab"},
		{"no known prefix", Secret("hunter2hunter2"), 4, ""},
		{"empty", Secret(""), 4, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.s.Prefix(tt.n); got != tt.want {
				t.Errorf("Prefix(%d) = %q, want %q", tt.n, got, tt.want)
			}
		})
	}
}

func TestKind(t *testing.T) {
	t.Parallel()
	tests := []struct {
		s    Secret
		want Kind
	}{
		{"gth_x", KindAccessToken},
		{"gtcs_x", KindClientSecret},
		{"gt_x", 0},
		{"", 0},
	}
	for _, tt := range tests {
		if got := tt.s.Kind(); got != tt.want {
			t.Errorf("Kind(%q) = %v, want %v", tt.s.Reveal(), got, tt.want)
		}
	}
	if Kind(0).Prefix() != "" || Kind(0).Len() != 0 || Kind(0).String() != "Kind(0)" {
		t.Error("zero Kind is not reported as unknown")
	}
}

func TestEqual(t *testing.T) {
	t.Parallel()
	tests := []struct {
		a, b string
		want bool
	}{
		{"", "", true},
		{"abc", "abc", true},
		{"abc", "abd", false},
		{"abc", "ab", false},
	}
	for _, tt := range tests {
		if got := Equal([]byte(tt.a), []byte(tt.b)); got != tt.want {
			t.Errorf("Equal(%q, %q) = %v", tt.a, tt.b, got)
		}
	}
}

// Holder is a struct with an exported Secret field, as a caller might log.
type Holder struct {
	Name  string
	Token Secret
}

func TestRedaction(t *testing.T) {
	t.Parallel()
	for _, kind := range kinds {
		s := mustGenerate(t, kind, 5)
		raw := s.Reveal()
		body := raw[len(kind.Prefix()):]
		want := kind.Prefix() + "…REDACTED"

		outputs := map[string]string{
			"String":   s.String(),
			"GoString": s.GoString(),
			"%v":       fmt.Sprintf("%v", s),
			"%s":       fmt.Sprintf("%s", s),
			"%+v":      fmt.Sprintf("%+v", s),
			"%#v":      fmt.Sprintf("%#v", s),
			"%q":       fmt.Sprintf("%q", s),
			"%x":       fmt.Sprintf("%x", s),
			"%X":       fmt.Sprintf("%X", s),
			"%d":       fmt.Sprintf("%d", s),
			"%10.3s":   fmt.Sprintf("%10.3s", s),
			"Sprint":   fmt.Sprint(s),
			"Sprintln": fmt.Sprintln(s),
			"pointer":  fmt.Sprintf("%v", &s),
			"struct":   fmt.Sprintf("%v", Holder{"n", s}),
			"struct+":  fmt.Sprintf("%+v", Holder{"n", s}),
			"struct#":  fmt.Sprintf("%#v", Holder{"n", s}),
			"slice":    fmt.Sprintf("%v", []Secret{s}),
			"map":      fmt.Sprintf("%v", map[string]Secret{"k": s}),
			"any":      fmt.Sprintf("%v", any(s)),
			"error":    fmt.Errorf("bad token %v", s).Error(),
		}
		jsonOut, err := json.Marshal(Holder{"n", s})
		if err != nil {
			t.Fatal(err)
		}
		outputs["json"] = string(jsonOut)
		text, _ := s.MarshalText()
		outputs["MarshalText"] = string(text)

		var jsonBuf, textBuf bytes.Buffer
		for _, h := range []slog.Handler{slog.NewJSONHandler(&jsonBuf, nil), slog.NewTextHandler(&textBuf, nil)} {
			l := slog.New(h)
			l.Info("login", "token", s)
			l.Info("login", slog.Any("token", s))
			l.Info("login", slog.Any("holder", Holder{"n", s}))
			l.Info("login", slog.Group("g", "token", s))
			l.With("token", s).Info("login")
			l.WithGroup("g").Info("login", "token", s)
		}
		outputs["slog JSON"] = jsonBuf.String()
		outputs["slog text"] = textBuf.String()

		for name, out := range outputs {
			if strings.Contains(out, body[:16]) || strings.Contains(out, body[20:]) {
				t.Errorf("%v %s leaks the secret: %s", kind, name, out)
			}
			if !strings.Contains(out, want) {
				t.Errorf("%v %s = %q, want it to contain %q", kind, name, out, want)
			}
		}
	}
}

func TestRedactionOfOddValues(t *testing.T) {
	t.Parallel()
	tests := []struct {
		s    Secret
		want string
	}{
		{"", ""},
		{"hunter2", "…REDACTED"},
		{"hunter2_abc", "…REDACTED"},
		{"gth_", "gth_…REDACTED"},
		{"gtcs_abc", "gtcs_…REDACTED"},
	}
	for _, tt := range tests {
		if got := fmt.Sprint(tt.s); got != tt.want {
			t.Errorf("Sprint(%q) = %q, want %q", tt.s.Reveal(), got, tt.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for seed := range uint64(3) {
		for _, k := range kinds {
			f.Add(mustGenerate(f, k, seed).Reveal())
		}
	}
	f.Add("")
	f.Add("gth_")
	f.Add(PrefixAccessToken + strings.Repeat("z", BodyLen))
	f.Add(PrefixClientSecret + strings.Repeat("0", BodyLen))
	f.Fuzz(func(t *testing.T, s string) {
		for _, k := range append(kinds, 0, 3) {
			got, err := Parse(k, s)
			if err != nil {
				if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrChecksum) {
					t.Fatalf("Parse error %v wraps neither sentinel", err)
				}
				if got != "" {
					t.Fatal("value returned with an error")
				}
				continue
			}
			if got.Reveal() != s || got.Kind() != k || len(s) != k.Len() {
				t.Fatalf("Parse(%v, %q) = %q", k, s, got.Reveal())
			}
			random, err := decode(k, s)
			if err != nil {
				t.Fatal(err)
			}
			if re := encode(k.Prefix(), &random); re != s {
				t.Fatalf("re-encoded %q as %q", s, re)
			}
			var sum [4]byte
			if !decodeFixed(sum[:], s[len(s)-sumChars:]) || binary.BigEndian.Uint32(sum[:]) != crc32.ChecksumIEEE(random[:]) {
				t.Fatal("accepted a bad checksum")
			}
		}
	})
}

func BenchmarkGenerate(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Generate(KindAccessToken); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParse(b *testing.B) {
	s := mustGenerate(b, KindAccessToken, 1).Reveal()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(KindAccessToken, s); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkHash(b *testing.B) {
	s := mustGenerate(b, KindAccessToken, 1)
	b.ReportAllocs()
	for b.Loop() {
		_ = s.Hash()
	}
}
