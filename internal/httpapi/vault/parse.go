package vault

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/gatehouse-dev/gatehouse/internal/errs"
)

// Parsing of Vault's loosely typed request fields.

// parseStringList reads a JSON list of strings or a comma-separated string.
func parseStringList(field string, raw json.RawMessage) ([]string, error) {
	s := strings.TrimSpace(string(raw))
	if s == "" || s == "null" {
		return []string{}, nil
	}
	var list []string
	if err := json.Unmarshal(raw, &list); err == nil {
		return list, nil
	}
	var str string
	if err := json.Unmarshal(raw, &str); err != nil {
		return nil, errs.New(errs.BadRequest, "invalid value for %q: want a list of strings or a comma-separated string", field)
	}
	if strings.TrimSpace(str) == "" {
		return []string{}, nil
	}
	return strings.Split(str, ","), nil
}

// parseBool reads a JSON bool or a string holding one; nil when absent.
func parseBool(field string, raw json.RawMessage) (*bool, error) {
	s := strings.TrimSpace(string(raw))
	if s == "" || s == "null" {
		return nil, nil
	}
	var b bool
	if err := json.Unmarshal(raw, &b); err == nil {
		return &b, nil
	}
	var str string
	if err := json.Unmarshal(raw, &str); err == nil {
		if v, err := strconv.ParseBool(strings.TrimSpace(str)); err == nil {
			return &v, nil
		}
	}
	return nil, errs.New(errs.BadRequest, "invalid value for %q: want true or false", field)
}

// parseInt reads a non-negative JSON integer or a string holding one.
func parseInt(field string, raw json.RawMessage) (int64, error) {
	var n json.Number
	if err := json.Unmarshal(raw, &n); err == nil {
		if v, err := n.Int64(); err == nil && v >= 0 {
			return v, nil
		}
	} else {
		var str string
		if err := json.Unmarshal(raw, &str); err == nil {
			if v, err := strconv.ParseInt(strings.TrimSpace(str), 10, 64); err == nil && v >= 0 {
				return v, nil
			}
		}
	}
	return 0, errs.New(errs.BadRequest, "invalid value for %q: want a non-negative integer", field)
}
