package main

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fingerprint is the master key fingerprint the ledger prints: first 12 hex of SHA-256.
func fingerprint(raw []byte) string {
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:])[:12]
}

// serveRefused runs serve, which must exit within limit (a start that is not refused
// would serve forever), and returns its exit code and stderr.
func (e *instanceEnv) serveRefused(t *testing.T, limit time.Duration) (int, string) {
	t.Helper()
	s := e.serve(t)
	select {
	case <-s.exited:
	case <-time.After(limit):
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		<-s.exited
		t.Fatalf("serve was not refused within %s\n%s", limit, s.stderr)
	}
	return s.cmd.ProcessState.ExitCode(), s.stderr.String()
}

func randomKey(t *testing.T) []byte {
	t.Helper()
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

// A server started with another master key than the one the database's secrets are
// wrapped with refuses to start (exit 2, both fingerprints and the key's source named),
// doctor fails, and after a rekey the new key serves the old secret.
func TestMasterKeyMismatchRefusesToStart(t *testing.T) {
	t.Parallel()
	e := newInstance(t)
	k1, k2 := randomKey(t), randomKey(t)
	fp1, fp2 := fingerprint(k1), fingerprint(k2)
	k1Env := "PAPERCLIP_SECRETS_MASTER_KEY=" + hex.EncodeToString(k1)
	k2File := filepath.Join(e.home, "k2.key")
	if err := os.WriteFile(k2File, []byte(hex.EncodeToString(k2)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	k2FileEnv := "PAPERCLIP_SECRETS_MASTER_KEY_FILE=" + k2File

	e.vars = []string{k1Env}
	s := e.serve(t)
	e.waitReady(t, s)
	board := e.client(t, e.instanceToken(t))
	v1, v2 := canary("k1"), canary("k2")
	sid := board.must(201, "POST", "/api/companies/"+companyA+"/secrets", `{"name": "S", "value": "`+v1+`"}`).json(t)["id"].(string)
	board.must(201, "POST", "/api/companies/"+companyA+"/secret-bindings",
		`{"secretId": "`+sid+`", "targetType": "agent", "targetId": "agent-k", "configPath": "env.API_KEY", "versionSelector": "latest"}`)
	agent := e.client(t, board.must(201, "POST", "/api/companies/"+companyA+"/agent-keys",
		`{"targetType": "agent", "targetId": "agent-k"}`).json(t)["token"].(string))
	resolved := func() string {
		t.Helper()
		var r struct{ Env map[string]string }
		if err := json.Unmarshal(agent.must(200, "POST", "/api/runtime/resolve", `{}`).body, &r); err != nil {
			t.Fatal(err)
		}
		return r.Env["API_KEY"]
	}
	if resolved() != v1 {
		t.Fatal("resolve under K1")
	}
	s.stop(t)

	anotherKeyIsRefusedBeforeServingStep(t, e, k1, k2, k2File, k2FileEnv)
	doctorNamesTheKeyMismatchStep(t, e, k1Env, fp1, fp2)

	// Rekey K1 → K2 moves the check: K1 is now the wrong key, K2 serves the old secret.
	code, out, errOut := e.run(t, "secrets", "rekey", "--new-key-file", k2File)
	if code != 0 || !strings.Contains(out, "rewrapped 1 data keys under master key "+fp2) {
		t.Fatalf("rekey: exit %d\n%s%s", code, out, errOut)
	}
	if code, errOut := e.serveRefused(t, 30*time.Second); code != 2 || !strings.Contains(errOut, "written with "+fp2) {
		t.Fatalf("serve with K1 after the rekey: exit %d\n%s", code, errOut)
	}
	e.vars = []string{k2FileEnv}
	s = e.serve(t)
	e.waitReady(t, s)
	if got := board.must(200, "GET", "/api/companies/"+companyA+"/secrets", "").list(t); len(got) != 1 {
		t.Fatalf("secrets after the refused starts: %d, want 1", len(got))
	}
	if resolved() != v1 {
		t.Fatal("the old secret does not resolve under K2")
	}
	board.must(200, "POST", "/api/secrets/"+sid+"/rotate", `{"value": "`+v2+`"}`)
	if resolved() != v2 {
		t.Fatal("the rotated secret does not resolve under K2")
	}
	s.stop(t)
}

// anotherKeyIsRefusedBeforeServingStep: another key, from a file, then from the env
// var: refused before serving, naming both fingerprints and the key's source, never a
// key.
func anotherKeyIsRefusedBeforeServingStep(t *testing.T, e *instanceEnv, k1, k2 []byte, k2File, k2FileEnv string) {
	t.Helper()
	fp1, fp2 := fingerprint(k1), fingerprint(k2)
	for _, tc := range []struct{ vars, source string }{{k2FileEnv, k2File}, {"PAPERCLIP_SECRETS_MASTER_KEY=" + hex.EncodeToString(k2), "PAPERCLIP_SECRETS_MASTER_KEY"}} {
		e.vars = []string{tc.vars}
		code, errOut := e.serveRefused(t, 30*time.Second)
		if code != 2 || !strings.Contains(errOut, "master key mismatch") {
			t.Fatalf("serve with K2 (%s): exit %d\n%s", tc.source, code, errOut)
		}
		for _, want := range []string{fp1, fp2, tc.source} {
			if !strings.Contains(errOut, want) {
				t.Errorf("stderr does not name %q:\n%s", want, errOut)
			}
		}
		for _, never := range []string{hex.EncodeToString(k1), hex.EncodeToString(k2), "secretsledger serving"} {
			if strings.Contains(errOut, never) {
				t.Errorf("stderr contains %q:\n%s", never, errOut)
			}
		}
	}
}

// doctorNamesTheKeyMismatchStep: doctor fails on the mismatch alone, and passes with
// the recorded key.
func doctorNamesTheKeyMismatchStep(t *testing.T, e *instanceEnv, k1Env, fp1, fp2 string) {
	t.Helper()
	code, out, _ := e.run(t, "doctor")
	var fails []string
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "FAIL") {
			fails = append(fails, line)
		}
	}
	if code != 1 || len(fails) != 1 || !strings.Contains(fails[0], "master key mismatch") || !strings.Contains(fails[0], fp1) || !strings.Contains(fails[0], fp2) {
		t.Fatalf("doctor with K1 recorded and K2 configured: exit %d\n%s", code, out)
	}
	e.vars = []string{k1Env}
	if code, out, _ := e.run(t, "doctor"); code != 0 || !strings.Contains(out, "master key "+fp1+" from env PAPERCLIP_SECRETS_MASTER_KEY matches") {
		t.Fatalf("doctor with K1: exit %d\n%s", code, out)
	}
}

// testPKI writes a CA and a server certificate for localhost and 127.0.0.1 signed by
// it; it returns the files' paths. other is a second key, for a mismatched pair.
func testPKI(t *testing.T, dir string) (caFile, certFile, keyFile, otherKeyFile string) {
	t.Helper()
	newKey := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	writeKey := func(name string, k *ecdsa.PrivateKey) string {
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return write(name, "PRIVATE KEY", der)
	}
	caKey, leafKey := newKey(), newKey()
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ledger test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &leafKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return write("ca.pem", "CERTIFICATE", caDER), write("cert.pem", "CERTIFICATE", leafDER),
		writeKey("key.pem", leafKey), writeKey("other-key.pem", newKey())
}

// logLines decodes a server's JSON log lines.
func logLines(t *testing.T, stderr string) []map[string]any {
	t.Helper()
	var lines []map[string]any
	sc := bufio.NewScanner(strings.NewReader(stderr))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil {
			lines = append(lines, m)
		}
	}
	return lines
}

func clearTextWarnings(t *testing.T, stderr string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range logLines(t, stderr) {
		if msg, _ := l["msg"].(string); l["level"] == "WARN" && strings.Contains(msg, "clear text") {
			out = append(out, l)
		}
	}
	return out
}

// With LEDGER_TLS_CERT_FILE/KEY_FILE the API is HTTPS only (TLS 1.2+), trusted through
// the test CA, and the client verbs default to https and trust the CA in SSL_CERT_FILE.
// Listening on every interface with TLS logs no clear-text warning.
func TestServeOverTLS(t *testing.T) {
	t.Parallel()
	e := newInstance(t)
	caFile, certFile, keyFile, _ := testPKI(t, e.home)
	_, port, _ := net.SplitHostPort(e.addr)
	e.vars = []string{"LEDGER_HTTP_ADDR=0.0.0.0:" + port, "LEDGER_TLS_CERT_FILE=" + certFile, "LEDGER_TLS_KEY_FILE=" + keyFile}
	s := e.serve(t)

	caPEM, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caPEM)
	client := func(cfg *tls.Config) *http.Client {
		return &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg}}
	}
	trusting := client(&tls.Config{RootCAs: roots})
	deadline := time.Now().Add(20 * time.Second)
	for {
		select {
		case <-s.exited:
			t.Fatalf("serve exited: %v\n%s", s.cmd.ProcessState, s.stderr)
		default:
		}
		resp, err := trusting.Get("https://" + e.addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("/healthz over HTTPS not 200 within 20s: %v\n%s", err, s.stderr)
		}
		time.Sleep(20 * time.Millisecond) // polling an external process's readiness
	}

	resp, err := http.Get("http://" + e.addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("plain HTTP to the TLS port: %d, want 400", resp.StatusCode)
	}
	if _, err := client(&tls.Config{}).Get("https://" + e.addr + "/healthz"); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("an untrusted certificate was accepted: %v", err)
	}
	if _, err := client(&tls.Config{RootCAs: roots, MaxVersion: tls.VersionTLS11}).Get("https://" + e.addr + "/healthz"); err == nil {
		t.Fatal("a TLS 1.1 handshake succeeded")
	}

	// Client verbs: no LEDGER_URL, so https://localhost:<port>; the CA from SSL_CERT_FILE.
	base := e.vars
	e.vars = append(base, "SSL_CERT_FILE="+caFile)
	if code, out, errOut := e.run(t, "secrets", "list", "-C", companyA); code != 0 || strings.TrimSpace(out) != "[]" {
		t.Fatalf("client verb over TLS: exit %d\n%s%s", code, out, errOut)
	}
	e.vars = append(base, "SSL_CERT_FILE="+filepath.Join(e.home, "nonexistent.pem"))
	if code, _, errOut := e.run(t, "secrets", "list", "-C", companyA); code == 0 || !strings.Contains(errOut, "https://localhost:"+port) || !strings.Contains(errOut, "certificate") {
		t.Fatalf("client verb without the CA: exit %d\n%s", code, errOut)
	}

	if w := clearTextWarnings(t, s.stderr.String()); len(w) != 0 {
		t.Fatalf("clear-text warning with TLS on: %v", w)
	}
	serving := false
	for _, l := range logLines(t, s.stderr.String()) {
		if l["msg"] == "secretsledger serving" && l["tls"] == true {
			serving = true
		}
	}
	if !serving {
		t.Fatalf("no serving line with tls=true:\n%s", s.stderr)
	}
	s.stop(t)
}

// Plain HTTP on every interface starts, with one warning that values travel in clear text.
func TestPlainHTTPOffLoopbackWarns(t *testing.T) {
	t.Parallel()
	e := newInstance(t)
	_, port, _ := net.SplitHostPort(e.addr)
	e.vars = []string{"LEDGER_HTTP_ADDR=0.0.0.0:" + port}
	s := e.serve(t)
	e.waitReady(t, s) // over 127.0.0.1:<port>
	w := clearTextWarnings(t, s.stderr.String())
	if len(w) != 1 || w[0]["addr"] != "0.0.0.0:"+port || !strings.Contains(w[0]["msg"].(string), "LEDGER_TLS_CERT_FILE") {
		t.Fatalf("clear-text warnings = %v\n%s", w, s.stderr)
	}
	s.stop(t)

	// The default loopback address does not warn.
	e.vars = nil
	s = e.serve(t)
	e.waitReady(t, s)
	if w := clearTextWarnings(t, s.stderr.String()); len(w) != 0 {
		t.Fatalf("warning on loopback: %v", w)
	}
	s.stop(t)
}

// Listener settings that cannot work stop the start with exit 2, before a database is
// created.
func TestListenerConfigurationErrors(t *testing.T) {
	t.Parallel()
	pki := t.TempDir()
	_, certFile, keyFile, otherKey := testPKI(t, pki)
	cases := []struct {
		name     string
		vars     []string
		contains []string
	}{
		{"pprof on every interface", []string{"LEDGER_PPROF_ADDR=0.0.0.0:6060"}, []string{"LEDGER_PPROF_ADDR", "loopback"}},
		{"pprof on a LAN address", []string{"LEDGER_PPROF_ADDR=192.0.2.1:6060"}, []string{"LEDGER_PPROF_ADDR"}},
		{"TLS certificate without key", []string{"LEDGER_TLS_CERT_FILE=" + certFile}, []string{"LEDGER_TLS_CERT_FILE and LEDGER_TLS_KEY_FILE"}},
		{"TLS key without certificate", []string{"LEDGER_TLS_KEY_FILE=" + keyFile}, []string{"LEDGER_TLS_CERT_FILE and LEDGER_TLS_KEY_FILE"}},
		{"TLS files missing", []string{"LEDGER_TLS_CERT_FILE=" + filepath.Join(pki, "none.pem"), "LEDGER_TLS_KEY_FILE=" + keyFile},
			[]string{"cannot load the TLS certificate", filepath.Join(pki, "none.pem")}},
		{"TLS key of another certificate", []string{"LEDGER_TLS_CERT_FILE=" + certFile, "LEDGER_TLS_KEY_FILE=" + otherKey},
			[]string{"cannot load the TLS certificate", "does not match"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newInstance(t)
			e.vars = tc.vars
			code, errOut := e.serveRefused(t, 30*time.Second)
			if code != 2 {
				t.Fatalf("exit %d, want 2\n%s", code, errOut)
			}
			for _, want := range tc.contains {
				if !strings.Contains(errOut, want) {
					t.Errorf("stderr does not mention %q:\n%s", want, errOut)
				}
			}
			if strings.Contains(errOut, "PRIVATE KEY") {
				t.Errorf("stderr shows key material:\n%s", errOut)
			}
			if _, err := os.Stat(e.pgdata()); err == nil {
				t.Error("a refused start still created a database cluster")
			}
		})
	}
}
