package console

import (
	"bytes"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

// Form is a submitted form: its values, and error messages by field name
// ("" = about the whole form).
type Form struct {
	Values map[string]string
	Errors map[string]string
}

// NewForm is an empty form.
func NewForm() Form { return Form{Values: map[string]string{}, Errors: map[string]string{}} }

// Get is a field's value.
func (f Form) Get(name string) string { return f.Values[name] }

// Set sets a field's value.
func (f Form) Set(name, value string) { f.Values[name] = value }

// Err is a field's error message.
func (f Form) Err(name string) string { return f.Errors[name] }

// HasErrors reports whether any field has an error.
func (f Form) HasErrors() bool { return len(f.Errors) > 0 }

// pageData is what the layout renders; Data is the page's own.
type pageData struct {
	Title   string
	Session *Session
	Flash   string
	Path    string
	Data    any
}

// pageTemplate is one page parsed with the layout.
type pageTemplate struct{ t *template.Template }

var funcs = template.FuncMap{
	// fieldError is the error paragraph of field name, if any.
	"fieldError": func(f Form, name string) template.HTML {
		msg := f.Errors[name]
		if msg == "" {
			return ""
		}
		return template.HTML(fmt.Sprintf(`<p class="field-error" id="%s-error">%s</p>`,
			template.HTMLEscapeString(name), template.HTMLEscapeString(msg)))
	},
	// invalid marks an input whose field has an error (aria-invalid,
	// aria-describedby pointing at fieldError's paragraph).
	"invalid": func(f Form, name string) template.HTMLAttr {
		if f.Errors[name] == "" {
			return ""
		}
		return template.HTMLAttr(fmt.Sprintf(`aria-invalid="true" aria-describedby="%s-error"`, template.HTMLEscapeString(name)))
	},
	"time": func(v any) string {
		switch t := v.(type) {
		case time.Time:
			if t.IsZero() {
				return "—"
			}
			return t.UTC().Format("2006-01-02 15:04:05 UTC")
		case string:
			if pt, err := time.Parse(time.RFC3339Nano, t); err == nil {
				return pt.UTC().Format("2006-01-02 15:04:05 UTC")
			}
			if t == "" {
				return "—"
			}
			return t
		case *string:
			if t == nil {
				return "—"
			}
			if pt, err := time.Parse(time.RFC3339Nano, *t); err == nil {
				return pt.UTC().Format("2006-01-02 15:04:05 UTC")
			}
			return *t
		}
		return fmt.Sprint(v)
	},
	// dict builds a map for a partial: dict "Form" .Form "Name" "ttl".
	"dict": func(kv ...any) map[string]any {
		m := make(map[string]any, len(kv)/2)
		for i := 0; i+1 < len(kv); i += 2 {
			m[fmt.Sprint(kv[i])] = kv[i+1]
		}
		return m
	},
	"join": strings.Join,
	"add":  func(a, b int) int { return a + b },
	"sub":  func(a, b int) int { return a - b },
}

// mustParsePages parses every page template together with the layout and
// the partials (templates/_*.html, shared {{define}}s); each page defines
// "content".
func mustParsePages() map[string]*pageTemplate {
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		panic(err)
	}
	pages := map[string]*pageTemplate{}
	for _, n := range names {
		base := path.Base(n)
		if base == "layout.html" || strings.HasPrefix(base, "_") {
			continue
		}
		t := template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/_*.html", n))
		pages[base] = &pageTemplate{t: t}
	}
	return pages
}

// render writes page with the layout (status 200).
func (c *Console) render(w http.ResponseWriter, r *http.Request, s *Session, page, title string, data any) {
	c.renderStatus(w, r, s, http.StatusOK, page, title, data)
}

// renderStatus writes page with the layout and status.
func (c *Console) renderStatus(w http.ResponseWriter, r *http.Request, s *Session, status int, page, title string, data any) {
	p, ok := c.pages[page]
	if !ok {
		panic("console: no template " + page)
	}
	var buf bytes.Buffer
	d := pageData{Title: title, Session: s, Flash: c.takeFlash(w, r, s), Path: r.URL.Path, Data: data}
	if err := p.t.Execute(&buf, d); err != nil {
		c.cfg.Logger.ErrorContext(r.Context(), "console: rendering failed", "page", page, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// renderError writes the error page.
func (c *Console) renderError(w http.ResponseWriter, r *http.Request, s *Session, status int, msg string) {
	c.renderStatus(w, r, s, status, "error.html", http.StatusText(status), msg)
}

// redirect sends the browser to path after a post (303), with a notice.
func (c *Console) redirect(w http.ResponseWriter, r *http.Request, s *Session, path, flash string) {
	c.setFlash(w, s, flash)
	http.Redirect(w, r, path, http.StatusSeeOther)
}
