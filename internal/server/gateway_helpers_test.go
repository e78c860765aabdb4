package server_test

import (
	"encoding/base64"
	"encoding/json"
	"strconv"
)

func base64URLDecode(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }
func jsonUnmarshal(b []byte, v any) error      { return json.Unmarshal(b, v) }
func itoa(i int) string                        { return strconv.Itoa(i) }
