package httpapi

// knownMethods are the HTTP methods the metrics name; LIST is Vault's.
var knownMethods = map[string]string{
	"GET": "GET", "HEAD": "HEAD", "POST": "POST", "PUT": "PUT", "PATCH": "PATCH",
	"DELETE": "DELETE", "OPTIONS": "OPTIONS", "LIST": "LIST",
}

// methodLabel is the method's metric label: one of knownMethods, or
// "OTHER", so that clients sending made-up methods cannot add series.
// (The route label is the matched ServeMux pattern or "unmatched", which
// is bounded by the routes registered.)
func methodLabel(m string) string {
	if l, ok := knownMethods[m]; ok {
		return l
	}
	return "OTHER"
}
