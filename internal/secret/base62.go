package secret

// Fixed-width base62 for big-endian byte strings whose length is a multiple
// of 4, with no allocation: the number is held as 32-bit limbs.

const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

const invalid = 0xff

// decodeTable maps a byte to its base62 digit, or invalid.
var decodeTable = func() (t [256]byte) {
	for i := range t {
		t[i] = invalid
	}
	for i := 0; i < len(alphabet); i++ {
		t[alphabet[i]] = byte(i)
	}
	return t
}()

const maxLimbs = randomBytes / 4

// encodeFixed writes src, a big-endian number, as len(dst) base62 digits,
// most significant first, zero-padded. len(dst) must be large enough.
func encodeFixed(dst, src []byte) {
	var buf [maxLimbs]uint32
	n := buf[:len(src)/4]
	for i := range n {
		n[i] = uint32(src[4*i])<<24 | uint32(src[4*i+1])<<16 | uint32(src[4*i+2])<<8 | uint32(src[4*i+3])
	}
	for i := len(dst) - 1; i >= 0; i-- {
		var rem uint64
		for j := range n {
			cur := rem<<32 | uint64(n[j])
			n[j] = uint32(cur / 62)
			rem = cur % 62
		}
		dst[i] = alphabet[rem]
	}
}

// decodeFixed parses src, base62 digits checked by the caller to be in the
// alphabet, into dst as a big-endian number. It reports false when the
// value does not fit in len(dst) bytes.
func decodeFixed(dst []byte, src string) bool {
	var buf [maxLimbs]uint32
	n := buf[:len(dst)/4]
	for i := 0; i < len(src); i++ {
		carry := uint64(decodeTable[src[i]])
		for j := len(n) - 1; j >= 0; j-- {
			cur := uint64(n[j])*62 + carry
			n[j] = uint32(cur)
			carry = cur >> 32
		}
		if carry != 0 {
			return false
		}
	}
	for i, v := range n {
		dst[4*i], dst[4*i+1], dst[4*i+2], dst[4*i+3] = byte(v>>24), byte(v>>16), byte(v>>8), byte(v)
	}
	return true
}
