package main

// The headless Chromium the console's browser test drives: one tab, what the browser
// reports as wrong on a page, and the few actions an operator takes.

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// browserProblems collects what the browser reports as wrong on a page: console errors
// and warnings, uncaught exceptions, CSP violations, loads it blocked.
type browserProblems struct {
	mu   sync.Mutex
	seen []string
}

func (p *browserProblems) add(s string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.seen = append(p.seen, s)
}

// take returns and forgets what was collected.
func (p *browserProblems) take() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.seen
	p.seen = nil
	return s
}

func (p *browserProblems) listen(ev any) {
	switch ev := ev.(type) {
	case *cdplog.EventEntryAdded:
		if ev.Entry.Level == cdplog.EntryLevelError || ev.Entry.Level == cdplog.EntryLevelWarning || ev.Entry.Source == cdplog.EntrySourceSecurity {
			p.add(fmt.Sprintf("log %s/%s: %s (%s)", ev.Entry.Source, ev.Entry.Level, ev.Entry.Text, ev.Entry.URL))
		}
	case *runtime.EventExceptionThrown:
		p.add("exception: " + ev.ExceptionDetails.Text)
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeWarning || ev.Type == runtime.ConsoleAPICalledTypeAssert {
			p.add("console." + string(ev.Type))
		}
	case *network.EventLoadingFailed:
		if ev.BlockedReason != "" {
			p.add(fmt.Sprintf("blocked load (%s): %s", ev.BlockedReason, ev.ErrorText))
		}
	}
}

// chromium is one headless browser tab on a test instance.
type chromium struct {
	t        *testing.T
	ctx      context.Context
	base     string
	shots    string
	problems *browserProblems
}

func newChromium(t *testing.T, base string) *chromium {
	t.Helper()
	exe, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("the console's browser test needs Debian's chromium (apt-get install chromium; .ci/run installs it): %v", err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.NoSandbox, // CI runs as root
		chromedp.Headless, chromedp.WindowSize(1280, 800), chromedp.DisableGPU)
	problems := &browserProblems{}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	tab, cancelTab := chromedp.NewContext(allocCtx, chromedp.WithListener(problems.listen))
	// The first Do starts the browser for the life of tab; the time limit is on what follows.
	if err := chromedp.Do(tab, chromedp.EmulateViewport(1280, 800)); err != nil {
		cancelTab()
		cancelAlloc()
		t.Fatalf("start chromium: %v", err)
	}
	ctx, cancelTime := context.WithTimeout(tab, 3*time.Minute)
	t.Cleanup(func() { cancelTime(); cancelTab(); cancelAlloc() })
	return &chromium{t: t, ctx: ctx, base: base, shots: t.TempDir(), problems: problems}
}

// run runs actions; an error fails the test.
func (b *chromium) run(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, actions...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

// value runs an action that returns a value; an error fails the test.
func value[T any](b *chromium, what string, action chromedp.Action[T]) T {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, action)
	if err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
	return v
}

// load runs actions that end in a navigation (a link, a form post) and returns the
// final page's status and URL, after every redirect.
func (b *chromium) load(what string, actions ...chromedp.Action[chromedp.Void]) (int64, *url.URL) {
	b.t.Helper()
	resp, err := chromedp.RunResponse(b.ctx, actions...)
	if err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
	if resp == nil {
		b.t.Fatalf("%s: no navigation", what)
	}
	u, err := url.Parse(resp.URL)
	if err != nil {
		b.t.Fatal(err)
	}
	return resp.Status, u
}

// page opens a console page and wants a 200 answer.
func (b *chromium) page(path string) *url.URL {
	b.t.Helper()
	status, u := b.load("open "+path, chromedp.Navigate(b.base+path))
	if status != http.StatusOK {
		b.t.Fatalf("%s: %d, want 200 (%s)", path, status, b.text("main"))
	}
	return u
}

// submit clicks a form's button and wants the page it leads to (200) showing notice.
func (b *chromium) submit(button, notice string) *url.URL {
	b.t.Helper()
	status, u := b.load("submit "+button, chromedp.Click(chromedp.CSS(button)))
	if status != http.StatusOK {
		b.t.Fatalf("submit %s: %d, want 200 (%s)", button, status, b.text("main"))
	}
	if got := b.text(".notice"); got != notice {
		b.t.Fatalf("submit %s: notice %q, want %q (%s)", button, got, notice, b.text("main"))
	}
	return u
}

// text is the text of the first element sel matches ("" when none does).
func (b *chromium) text(sel string) string {
	b.t.Helper()
	nodes := value(b, "read "+sel, chromedp.Evaluate[[]string](fmt.Sprintf(`Array.from(document.querySelectorAll(%q)).slice(0, 1).map(e => e.innerText.trim())`, sel)))
	if len(nodes) == 0 {
		return ""
	}
	return nodes[0]
}

// fill types text into a field, as a user types.
func (b *chromium) fill(sel, text string) {
	b.t.Helper()
	b.run("type into "+sel, chromedp.SendKeys(chromedp.CSS(sel), text))
}

// choose picks a select's option.
func (b *chromium) choose(sel, option string) {
	b.t.Helper()
	b.run("choose "+option+" in "+sel, chromedp.SetValue(chromedp.CSS(sel), option))
}

// screenshot keeps a full-page PNG of the page and returns it.
func (b *chromium) screenshot(name string) []byte {
	b.t.Helper()
	img := value(b, "screenshot "+name, chromedp.FullScreenshot(100)) // 100: PNG
	if _, err := png.DecodeConfig(bytes.NewReader(img)); err != nil {
		b.t.Fatalf("screenshot %s is not a PNG: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(b.shots, name+".png"), img, 0o600); err != nil {
		b.t.Fatal(err)
	}
	return img
}

// clean fails the test when the browser reported a problem on the pages since the last
// call: the CSP blocks nothing the console itself uses, so any violation is a bug.
func (b *chromium) clean(where string) {
	b.t.Helper()
	if p := b.problems.take(); len(p) > 0 {
		b.t.Errorf("%s: the browser reported:\n%s", where, strings.Join(p, "\n"))
	}
}

// attr is an attribute of the first element sel matches, and whether it has it.
func (b *chromium) attr(sel, name string) (string, bool) {
	b.t.Helper()
	a := value(b, "read "+sel+"["+name+"]", chromedp.AttributeValue(chromedp.CSS(sel), name))
	return a.Value, a.Exists
}

// scripts turns the page's JavaScript on or off.
func (b *chromium) scripts(on bool) {
	b.t.Helper()
	if _, err := chromedp.Call(b.ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: !on}); err != nil {
		b.t.Fatal(err)
	}
}
