package console

import (
	"context"
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gorilla/mux"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/oklog/ulid/v2"

	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/apiclient"
	"github.com/secretsledger/secretsledger/eventstore/actor"
	"github.com/secretsledger/secretsledger/eventstore/integrity"
)

//go:embed templates/*.html static/*
var files embed.FS

// Limits of what the console accepts from a browser.
const (
	// maxFormBytes bounds a form post: a secret value is at most 64 KiB, and an import
	// selection at most 100 rows.
	maxFormBytes = 512 << 10
	// maxTokenBytes bounds the board token typed into the sign-in form.
	maxTokenBytes = 512
	// pageSize is how many rows a list page shows.
	pageSize = 50
	// pickerRows is how many secrets or vaults a form's choice lists (the API's largest page).
	pickerRows = 1000
	// detailRows is how many versions and bindings a secret's page shows, and recentReads
	// how many of its reads.
	detailRows  = 100
	recentReads = 20
)

// cookieName is the session cookie. WARNING: renaming it signs every operator out.
const cookieName = "ledger_console"

// contentSecurityPolicy allows only the console's own script and style sheet, no
// inline code, no frames, and forms that post back to the console only.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// Authenticator checks the board token typed into the sign-in form.
type Authenticator interface {
	Authenticate(ctx context.Context, token string) (actor.Actor, error)
}

// Config is what the console needs.
type Config struct {
	Log  *slog.Logger
	DB   *pgxpool.Pool
	Auth Authenticator
	// Key keys the stored hashes of session ids.
	Key integrity.Key
	// SessionTTL is how long a sign-in lasts.
	SessionTTL time.Duration
}

// console serves /console/.
type console struct {
	log      *slog.Logger
	auth     Authenticator
	sessions sessions
	api      *apiclient.Client
	pages    map[string]*template.Template
	router   *mux.Router
}

// New returns the console's handler maker: it gets the /api handler, which it calls
// in-process on behalf of the signed-in token.
func New(cfg Config) func(api http.Handler) http.Handler {
	return func(apiHandler http.Handler) http.Handler {
		c := &console{log: cfg.Log, auth: cfg.Auth, sessions: sessions{db: cfg.DB, key: cfg.Key, ttl: cfg.SessionTTL},
			api: newAPI(apiHandler), pages: parsePages()}
		c.router = c.routes()
		return secured(c.router)
	}
}

// parsePages parses each page template with the layout; a template that does not parse
// is a bug caught by every test, so it panics.
func parsePages() map[string]*template.Template {
	names, err := fs.Glob(files, "templates/*.html")
	if err != nil {
		panic(err)
	}
	pages := map[string]*template.Template{}
	for _, name := range names {
		page := strings.TrimSuffix(strings.TrimPrefix(name, "templates/"), ".html")
		if strings.HasPrefix(page, "_") { // the layout and the parts pages share
			continue
		}
		pages[page] = template.Must(template.New(page).Funcs(templateFuncs).ParseFS(files, "templates/_*.html", name))
	}
	return pages
}

// secured sets the headers every console answer carries: a strict CSP, no framing, no
// caching (pages list names and ids an operator may not want left on a shared disk),
// and no referrer outside the console's origin.
func secured(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Cache-Control", "no-store")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		next.ServeHTTP(w, r)
	})
}

// visit is one signed-in request.
type visit struct {
	w       http.ResponseWriter
	r       *http.Request
	session string
	actor   actor.Actor
	api     *apiclient.Client
	// ctx is the context of the visit's API calls, on behalf of its actor.
	ctx context.Context
}

type page func(v *visit) error

// view is what the layout renders around a page's own data.
type view struct {
	Title   string
	Section string
	Company string
	CSRF    string
	Actor   actor.Actor
	Notice  string
	Error   *apiError
	Data    any
}

func (c *console) routes() *mux.Router {
	r := mux.NewRouter()
	r.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.render(w, r, http.StatusNotFound, "error", view{Title: "Not found",
			Error: &apiError{Status: http.StatusNotFound, Message: "there is no such console page", Code: "ENOTFOUND"}})
	})
	r.MethodNotAllowedHandler = r.NotFoundHandler
	r.Handle("/console", http.RedirectHandler("/console/", http.StatusMovedPermanently)).Methods(http.MethodGet)
	r.HandleFunc("/console/", c.home).Methods(http.MethodGet)
	r.HandleFunc("/console/sign-in", c.signIn).Methods(http.MethodPost)
	r.HandleFunc("/console/sign-out", c.changes(c.signOut)).Methods(http.MethodPost)
	r.PathPrefix("/console/static/").Handler(http.StripPrefix("/console/", staticFiles())).Methods(http.MethodGet)
	r.HandleFunc("/console/open", c.reads(c.openCompany)).Methods(http.MethodGet)
	c.secretRoutes(r)
	c.consumerRoutes(r)
	c.incidentRoutes(r)
	c.accessRoutes(r)
	c.vaultRoutes(r)
	c.importRoutes(r)
	r.HandleFunc("/console/ledger", c.reads(c.ledger)).Methods(http.MethodGet)
	return r
}

// staticFiles serves the style sheet and script, cached for a while (they change only
// with the binary).
func staticFiles() http.Handler {
	fileServer := http.FileServerFS(files)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/") {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "private, max-age=300")
		fileServer.ServeHTTP(w, r)
	})
}

// signedIn loads the session of the request; without one, a page asks to sign in.
func (c *console) signedIn(w http.ResponseWriter, r *http.Request) (*visit, bool) {
	cookie, err := r.Cookie(cookieName)
	if err != nil || cookie.Value == "" || len(cookie.Value) > maxSessionIDBytes {
		clearCookie(w, r)
		c.toSignIn(w, r)
		return nil, false
	}
	a, err := c.sessions.actor(r.Context(), cookie.Value)
	if errors.Is(err, errNoSession) {
		clearCookie(w, r)
		c.toSignIn(w, r)
		return nil, false
	}
	if err != nil {
		c.log.Error("console session", "err", err)
		c.render(w, r, http.StatusServiceUnavailable, "error", view{Title: "Unavailable",
			Error: &apiError{Status: http.StatusServiceUnavailable, Message: "the console cannot check the session now; try again", Code: "EUNAVAILABLE"}})
		return nil, false
	}
	return &visit{w: w, r: r, session: cookie.Value, actor: a, api: c.api, ctx: onBehalfOf(r.Context(), a)}, true
}

// toSignIn answers a request without a live session: pages go to the sign-in form,
// state changes are refused.
func (c *console) toSignIn(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet {
		http.Redirect(w, r, "/console/?signin=needed", http.StatusSeeOther)
		return
	}
	c.render(w, r, http.StatusUnauthorized, "signin", view{Title: "Sign in",
		Error: &apiError{Status: http.StatusUnauthorized, Message: "your session has ended; sign in again", Code: "EUNAUTHORIZED"}})
}

// reads serves a page that changes nothing.
func (c *console) reads(p page) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if v, ok := c.signedIn(w, r); ok {
			c.finish(v, p(v))
		}
	}
}

// changes serves a form post: a live session, a same-origin request, and the session's
// CSRF token in the form, or nothing happens.
func (c *console) changes(p page) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
		if !sameOrigin(r) {
			c.refuse(w, r, "the request did not come from this console")
			return
		}
		v, ok := c.signedIn(w, r)
		if !ok {
			return
		}
		if err := r.ParseForm(); err != nil {
			c.render(w, r, http.StatusRequestEntityTooLarge, "error", c.viewFor(v, "Refused",
				&apiError{Status: http.StatusRequestEntityTooLarge, Message: "the form is too large or malformed", Code: "ETOOLARGE"}))
			return
		}
		if !csrfMatches(v.session, r.PostForm.Get("csrf")) {
			c.refuse(w, r, "the form's CSRF token is missing or wrong; reload the page and try again")
			return
		}
		c.finish(v, p(v))
	}
}

func (c *console) refuse(w http.ResponseWriter, r *http.Request, why string) {
	c.render(w, r, http.StatusForbidden, "error", view{Title: "Refused",
		Error: &apiError{Status: http.StatusForbidden, Message: why, Code: "EFORBIDDEN"}})
}

// sameOrigin refuses a cross-site post when the browser says where it came from
// (Sec-Fetch-Site, Origin); SameSite=Strict and the CSRF token already stop it, this
// refuses it before anything is read.
func sameOrigin(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
	default:
		return false
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	return err == nil && u.Host == r.Host
}

// finish writes what a page's handler returned, when it did not write itself.
func (c *console) finish(v *visit, err error) {
	if err == nil {
		return
	}
	var ae *apiError
	if !errors.As(err, &ae) {
		c.log.Error("console page", "path", v.r.URL.Path, "err", err)
		ae = &apiError{Status: http.StatusInternalServerError, Message: "something went wrong; the server log has the details", Code: "EINTERNAL"}
	}
	if ae.Status == http.StatusUnauthorized { // the token was revoked while signed in
		clearCookie(v.w, v.r)
		c.toSignIn(v.w, v.r)
		return
	}
	c.render(v.w, v.r, ae.Status, "error", c.viewFor(v, "Could not do that", ae))
}

// viewFor is a view with the visit's session parts filled in.
func (c *console) viewFor(v *visit, title string, e *apiError) view {
	return view{Title: title, CSRF: csrfOf(v.session), Actor: v.actor, Error: e, Company: mux.Vars(v.r)["companyId"]}
}

// show renders a page of a signed-in visit.
func (v *visit) show(c *console, page, title, section, company string, data any) error {
	vw := view{Title: title, Section: section, Company: company, CSRF: csrfOf(v.session), Actor: v.actor, Data: data,
		Notice: notices[v.r.URL.Query().Get("done")]}
	c.render(v.w, v.r, http.StatusOK, page, vw)
	return nil
}

// done ends a successful form post: back to a page, with a notice from a fixed list.
func (v *visit) done(path, notice string) error {
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	http.Redirect(v.w, v.r, path+sep+"done="+url.QueryEscape(notice), http.StatusSeeOther)
	return nil
}

// notices are the messages a page shows after a form post; the query names one, so
// nothing a client puts in the URL is shown.
var notices = map[string]string{
	"created": "Secret created.", "rotated": "Secret rotated.", "updated": "Secret updated.",
	"deleted": "Secret deleted; it can be restored within the recovery window.", "restored": "Secret restored.",
	"purged": "Secret purged.", "bound": "Binding created.", "unbound": "Binding removed.",
	"key-revoked": "Agent key revoked.", "keys-revoked": "Every agent key of the consumer revoked.",
	"frozen": "Frozen: every resolution is refused until it is unfrozen.", "unfrozen": "Unfrozen.",
	"vault-created": "Vault created.", "vault-default": "Vault set as the default.",
	"vault-disabled": "Vault disabled.", "vault-checked": "Vault health checked.",
}

func (c *console) render(w http.ResponseWriter, r *http.Request, status int, page string, v view) {
	t, ok := c.pages[page]
	if !ok {
		panic("console: no page " + page)
	}
	var buf strings.Builder
	if err := t.ExecuteTemplate(&buf, "layout", v); err != nil {
		c.log.Error("console render", "page", page, "err", err)
		http.Error(w, "the page could not be rendered", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(buf.String()))
}

// setCookie sets the session cookie, Secure when the browser came over TLS: to this
// server, or to a proxy in front that says so (X-Forwarded-Proto; a client that claims it
// over plain HTTP only loses its own session cookie).
func setCookie(w http.ResponseWriter, r *http.Request, value string, maxAge int) {
	secure := r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: value, Path: "/console/", MaxAge: maxAge,
		HttpOnly: true, Secure: secure, SameSite: http.SameSiteStrictMode})
}

func clearCookie(w http.ResponseWriter, r *http.Request) { setCookie(w, r, "", -1) }

// home is the sign-in form, or the companies the token may see.
func (c *console) home(w http.ResponseWriter, r *http.Request) {
	cookie, err := r.Cookie(cookieName)
	if err != nil || cookie.Value == "" {
		c.render(w, r, http.StatusOK, "signin", view{Title: "Sign in"})
		return
	}
	c.reads(c.companies)(w, r)
}

// signIn exchanges a board token for a session; the token is not kept.
func (c *console) signIn(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	if !sameOrigin(r) {
		c.refuse(w, r, "the request did not come from this console")
		return
	}
	token := ""
	if err := r.ParseForm(); err == nil {
		token = strings.TrimSpace(r.PostForm.Get("token"))
	}
	fail := func(status int, msg, code string) {
		c.render(w, r, status, "signin", view{Title: "Sign in", Error: &apiError{Status: status, Message: msg, Code: code}})
	}
	if token == "" || len(token) > maxTokenBytes {
		fail(http.StatusBadRequest, "give a board token", "EBADREQUEST")
		return
	}
	a, err := c.auth.Authenticate(r.Context(), token)
	if err != nil || a.Type != actor.Board {
		fail(http.StatusUnauthorized, "that is not a live board token", "EUNAUTHORIZED")
		return
	}
	id, err := c.sessions.start(r.Context(), a.ID)
	if err != nil {
		c.log.Error("console sign-in", "err", err)
		fail(http.StatusServiceUnavailable, "cannot sign in now; try again", "EUNAVAILABLE")
		return
	}
	c.log.Info("console sign-in", "token_id", a.ID)
	setCookie(w, r, id, int(c.sessions.ttl/time.Second))
	http.Redirect(w, r, "/console/", http.StatusSeeOther)
}

func (c *console) signOut(v *visit) error {
	if err := c.sessions.end(v.r.Context(), v.session); err != nil {
		return err
	}
	clearCookie(v.w, v.r)
	http.Redirect(v.w, v.r, "/console/?signin=out", http.StatusSeeOther)
	return nil
}

// formKey is a fresh idempotency key for a form: posting the same form twice (a
// double click, a reload) writes once.
func formKey() string { return "console-" + ulid.Make().String() }
