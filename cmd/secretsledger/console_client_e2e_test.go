package main

// The plain HTTP client the console's leak test walks the pages with: a browser
// stand-in that keeps every answer for the leak scan.

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// consoleAnswer is one answer of the console, kept for the leak scan.
type consoleAnswer struct {
	method, path string
	status       int
	header       http.Header
	body         string
}

// consoleClient is a browser stand-in: a cookie jar, redirects not followed (each is
// looked at), and every answer kept.
type consoleClient struct {
	t    *testing.T
	base string
	jar  *cookiejar.Jar
	hc   *http.Client
	mu   *sync.Mutex
	seen *[]consoleAnswer
}

func newConsoleClient(t *testing.T, base string, seen *[]consoleAnswer, mu *sync.Mutex) *consoleClient {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &consoleClient{t: t, base: base, jar: jar, mu: mu, seen: seen,
		hc: &http.Client{Jar: jar, Timeout: 30 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// do sends one request; headers are name, value pairs.
func (c *consoleClient) do(method, path string, form url.Values, headers ...string) consoleAnswer {
	c.t.Helper()
	var body io.Reader = http.NoBody
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, c.base+path, body)
	if err != nil {
		c.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	a := consoleAnswer{method: method, path: path, status: resp.StatusCode, header: resp.Header, body: string(b)}
	c.mu.Lock()
	*c.seen = append(*c.seen, a)
	c.mu.Unlock()
	return a
}

func (c *consoleClient) get(path string) consoleAnswer {
	c.t.Helper()
	return c.do(http.MethodGet, path, nil)
}

// page is get wanting 200.
func (c *consoleClient) page(path string) consoleAnswer {
	c.t.Helper()
	a := c.get(path)
	if a.status != http.StatusOK {
		c.t.Fatalf("GET %s: %d %s", path, a.status, a.body)
	}
	return a
}

// post posts a form and wants status.
func (c *consoleClient) post(status int, path string, form url.Values, headers ...string) consoleAnswer {
	c.t.Helper()
	a := c.do(http.MethodPost, path, form, headers...)
	if a.status != status {
		c.t.Fatalf("POST %s: %d, want %d: %s", path, a.status, status, a.body)
	}
	return a
}

// signIn signs in with a board token.
func (c *consoleClient) signIn(token string) {
	c.t.Helper()
	a := c.post(http.StatusSeeOther, "/console/sign-in", url.Values{"token": {token}})
	if a.header.Get("Location") != "/console/" {
		c.t.Fatalf("sign-in went to %q", a.header.Get("Location"))
	}
}

// cookie is the session cookie the jar holds.
func (c *consoleClient) cookie() string {
	u, _ := url.Parse(c.base + "/console/")
	for _, k := range c.jar.Cookies(u) {
		if k.Name == "ledger_console" {
			return k.Value
		}
	}
	return ""
}

// withCookie is a client holding a given session cookie, as one who stole it would.
func (c *consoleClient) withCookie(value string) *consoleClient {
	other := newConsoleClient(c.t, c.base, c.seen, c.mu)
	u, _ := url.Parse(c.base + "/console/")
	other.jar.SetCookies(u, []*http.Cookie{{Name: "ledger_console", Value: value, Path: "/console/"}})
	return other
}

// csrf is the CSRF token a page's forms carry.
func (c *consoleClient) csrf() string {
	c.t.Helper()
	m := csrfField.FindStringSubmatch(c.page("/console/companies/" + companyA + "/secrets").body)
	if m == nil {
		c.t.Fatal("no csrf field on the secrets page")
	}
	return m[1]
}

// formKeyOf is the idempotency key of a page's form.
func formKeyOf(t *testing.T, page consoleAnswer) string {
	t.Helper()
	m := formKeyField.FindStringSubmatch(page.body)
	if m == nil {
		t.Fatalf("%s: no formKey field", page.path)
	}
	return m[1]
}
