package tracepage

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"html/template"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-kit/log/level"
)

// view is everything one reply shows.
type view struct {
	App, PushID string
	Apps        []string
	JSON        bool
	Wait        time.Duration
	Zone        string // the app's time zone, named
	Base        string // scheme://host of this request, for the curl example
	Query       string // app=…&push_id=…, URL-encoded
	Status      int
	Problem     *Problem
	Result      *Result
}

//go:embed page.html
var pageHTML string

var page = template.Must(template.New("trace").Funcs(template.FuncMap{
	"statusText": http.StatusText,
}).Parse(pageHTML))

// reply writes v as JSON or HTML with the given status.
func (h *handler) reply(w http.ResponseWriter, v *view, status int, prob *Problem) {
	v.Status, v.Problem = status, prob
	v.App, v.PushID = clip(v.App), clip(v.PushID)
	hdr := w.Header()
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("Vary", "Accept")
	hdr.Set("X-Content-Type-Options", "nosniff")
	var body bytes.Buffer
	if v.JSON {
		var err error
		if prob != nil {
			err = json.NewEncoder(&body).Encode(struct {
				App    string   `json:"app"`
				PushID string   `json:"push_id"`
				Error  *Problem `json:"error"`
			}{v.App, v.PushID, prob})
		} else {
			err = json.NewEncoder(&body).Encode(v.Result)
		}
		if err != nil {
			h.internal(w, err)
			return
		}
		hdr.Set("Content-Type", "application/json")
	} else {
		if err := page.Execute(&body, v); err != nil {
			h.internal(w, err)
			return
		}
		hdr.Set("Content-Type", "text/html; charset=utf-8")
		// No scripts, no external assets: the page works offline and a
		// hostile ErrorInfo that slipped past escaping could still run nothing.
		hdr.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'")
	}
	hdr.Set("Content-Length", strconv.Itoa(body.Len()))
	w.WriteHeader(status)
	w.Write(body.Bytes()) //nolint:errcheck // the client may have gone
}

func (h *handler) internal(w http.ResponseWriter, err error) {
	level.Error(h.o.Logger).Log("msg", "trace page rendering failed", "err", err)
	http.Error(w, "Internal error rendering the trace page; the exporter's log has the details.", http.StatusInternalServerError)
}

// wantsJSON tells whether the Accept header asks for application/json.
func wantsJSON(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil || mt != "application/json" {
			continue
		}
		if q, err := strconv.ParseFloat(params["q"], 64); err == nil && q == 0 {
			continue
		}
		return true
	}
	return false
}
