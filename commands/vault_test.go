package commands

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/secretsledger/secretsledger/eventstore"
	"github.com/secretsledger/secretsledger/eventstore/events"
	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
)

// cfg parses a JSON object as the HTTP layer would hand it over.
func cfg(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// fold applies a decision's events to a state, as the stream would.
func foldDecision(t *testing.T, st vaultsState, d decision) vaultsState {
	t.Helper()
	for _, ve := range d.events {
		e, err := events.New(ve.typ, "co", ve.payload, eventstore.Metadata{})
		if err != nil {
			t.Fatal(err)
		}
		st.streamVersion++
		if err := st.apply(eventstore.Event{Type: e.Type, SchemaVersion: e.SchemaVersion, CompanyID: "co",
			Payload: e.Payload, StreamVersion: st.streamVersion}); err != nil {
			t.Fatal(err)
		}
	}
	return st
}

func newVaults() vaultsState { return vaultsState{companyID: "co", vaults: map[string]Vault{}} }

const secretCanary = "AKIAcanary-do-not-echo"

func TestDecideCreateVault(t *testing.T) {
	aws := `{"region": "us-east-1"}`
	cases := []struct {
		name, provider, config, displayName string
		isDefault                           bool
		code                                ledgererr.Code
		msg                                 string // part of the message, when refused
		status                              string
	}{
		{"local empty", "local_encrypted", `{}`, "Local", false, "", "", VaultReady},
		{"local nil config", "local_encrypted", ``, "Local", false, "", "", VaultReady},
		{"local with a key", "local_encrypted", `{"region": "us-east-1"}`, "Local", false, ledgererr.Invalid, "unknown config key", ""},
		{"aws minimal", "aws_secrets_manager", aws, "AWS", false, "", "", VaultReady},
		{"aws full", "aws_secrets_manager", `{"region": "us-gov-west-1", "namespace": "prod/eu_1+=.@-", "secretNamePrefix": "pc",
			"kmsKeyId": "arn:aws:kms:us-east-1:123456789012:key/abcd-1234", "ownerTag": "platform team", "environmentTag": "production"}`,
			"AWS", false, "", "", VaultReady},
		// Names: a namespace or prefix of several segments is one AWS name path; anything
		// the provider would refuse at every use is refused here, naming the field.
		{"aws namespace of segments", "aws_secrets_manager", `{"region": "us-east-1", "namespace": "team/prod", "secretNamePrefix": "org/pc"}`, "AWS", true, "", "", VaultReady},
		{"aws namespace ..", "aws_secrets_manager", `{"region": "us-east-1", "namespace": ".."}`, "AWS", true, ledgererr.Invalid, "config.namespace must not hold a '.' or '..'", ""},
		{"aws namespace .", "aws_secrets_manager", `{"region": "us-east-1", "namespace": "."}`, "AWS", false, ledgererr.Invalid, "config.namespace", ""},
		{"aws namespace climbing", "aws_secrets_manager", `{"region": "us-east-1", "namespace": "team/../x"}`, "AWS", false, ledgererr.Invalid, "config.namespace", ""},
		{"aws namespace leading /", "aws_secrets_manager", `{"region": "us-east-1", "namespace": "/team"}`, "AWS", false, ledgererr.Invalid, "config.namespace must not start or end with '/'", ""},
		{"aws namespace trailing /", "aws_secrets_manager", `{"region": "us-east-1", "namespace": "team/"}`, "AWS", false, ledgererr.Invalid, "config.namespace", ""},
		{"aws namespace //", "aws_secrets_manager", `{"region": "us-east-1", "namespace": "team//prod"}`, "AWS", false, ledgererr.Invalid, "config.namespace", ""},
		{"aws prefix a//b", "aws_secrets_manager", `{"region": "us-east-1", "secretNamePrefix": "a//b"}`, "AWS", true, ledgererr.Invalid, "config.secretNamePrefix must not start or end with '/' nor hold '//'", ""},
		{"aws prefix ..", "aws_secrets_manager", `{"region": "us-east-1", "secretNamePrefix": "pc/.."}`, "AWS", false, ledgererr.Invalid, "config.secretNamePrefix", ""},
		{"aws prefix of 64", "aws_secrets_manager", `{"region": "us-east-1", "secretNamePrefix": "` + strings.Repeat("p", 64) + `", "namespace": "` + strings.Repeat("n", 128) + `"}`, "AWS", false, "", "", VaultReady},
		{"aws no region", "aws_secrets_manager", `{"namespace": "x"}`, "AWS", false, ledgererr.Invalid, "config.region is required", ""},
		{"aws bad region", "aws_secrets_manager", `{"region": "US-EAST-1"}`, "AWS", false, ledgererr.Invalid, "config.region", ""},
		{"aws region words", "aws_secrets_manager", `{"region": "moon"}`, "AWS", false, ledgererr.Invalid, "config.region", ""},
		{"aws namespace charset", "aws_secrets_manager", `{"region": "us-east-1", "namespace": "a b"}`, "AWS", false, ledgererr.Invalid, "config.namespace", ""},
		{"aws namespace long", "aws_secrets_manager", `{"region": "us-east-1", "namespace": "` + strings.Repeat("n", 129) + `"}`, "AWS", false, ledgererr.Invalid, "config.namespace", ""},
		{"aws prefix long", "aws_secrets_manager", `{"region": "us-east-1", "secretNamePrefix": "` + strings.Repeat("p", 65) + `"}`, "AWS", false, ledgererr.Invalid, "config.secretNamePrefix", ""},
		{"aws kms long", "aws_secrets_manager", `{"region": "us-east-1", "kmsKeyId": "` + strings.Repeat("k", 513) + `"}`, "AWS", false, ledgererr.Invalid, "config.kmsKeyId", ""},
		{"aws tag long", "aws_secrets_manager", `{"region": "us-east-1", "ownerTag": "` + strings.Repeat("t", 129) + `"}`, "AWS", false, ledgererr.Invalid, "config.ownerTag", ""},
		{"aws unknown key", "aws_secrets_manager", `{"region": "us-east-1", "endpoint": "http://x"}`, "AWS", false, ledgererr.Invalid, `unknown config key "endpoint"`, ""},
		{"aws number", "aws_secrets_manager", `{"region": 1}`, "AWS", false, ledgererr.Invalid, "config.region must be a string", ""},
		{"aws nested", "aws_secrets_manager", `{"region": "us-east-1", "namespace": {"a": "b"}}`, "AWS", false, ledgererr.Invalid, "config.namespace must be a string", ""},
		{"gcp", "gcp_secret_manager", `{}`, "GCP", false, "", "", VaultComingSoon},
		{"gcp with a key", "gcp_secret_manager", `{"project": "p"}`, "GCP", false, ledgererr.Invalid, "unknown config key", ""},
		{"vault", "vault", `{"address": "https://vault.example.com:8200", "mount": "secret", "namespace": "team/a"}`, "HCV", false, "", "", VaultComingSoon},
		{"vault trailing slash", "vault", `{"address": "http://10.0.0.1/"}`, "HCV", false, "", "", VaultComingSoon},
		{"vault user info", "vault", `{"address": "https://user:pw@vault.example.com"}`, "HCV", false, ledgererr.Invalid, "config.address", ""},
		{"vault path", "vault", `{"address": "https://vault.example.com/v1/secret"}`, "HCV", false, ledgererr.Invalid, "config.address", ""},
		{"vault query", "vault", `{"address": "https://vault.example.com?x=1"}`, "HCV", false, ledgererr.Invalid, "config.address", ""},
		{"vault empty query", "vault", `{"address": "https://vault.example.com?"}`, "HCV", false, ledgererr.Invalid, "config.address", ""},
		{"vault fragment", "vault", `{"address": "https://vault.example.com#f"}`, "HCV", false, ledgererr.Invalid, "config.address", ""},
		{"vault scheme", "vault", `{"address": "ftp://vault.example.com"}`, "HCV", false, ledgererr.Invalid, "config.address", ""},
		{"vault no host", "vault", `{"address": "https://:8200"}`, "HCV", false, ledgererr.Invalid, "config.address", ""},
		{"vault bad port", "vault", `{"address": "https://vault.example.com:99999"}`, "HCV", false, ledgererr.Invalid, "config.address", ""},
		{"vault relative", "vault", `{"address": "vault.example.com"}`, "HCV", false, ledgererr.Invalid, "config.address", ""},
		{"unknown provider", "azure", `{}`, "Az", false, ledgererr.Invalid, "provider must be one of", ""},
		{"empty name", "local_encrypted", `{}`, "  ", false, ledgererr.Invalid, "displayName", ""},
		{"long name", "local_encrypted", `{}`, strings.Repeat("é", 121), false, ledgererr.Invalid, "displayName", ""},
		{"name of 120", "local_encrypted", `{}`, strings.Repeat("é", 120), false, "", "", VaultReady},
		{"default local", "local_encrypted", `{}`, "L", true, "", "", VaultReady},
		{"default coming soon", "vault", `{}`, "HCV", true, ledgererr.Invalid, "coming_soon vault cannot be a default", ""},
		// Credentials: at any depth, in any case or spelling, before the unknown-key check.
		{"secretAccessKey", "aws_secrets_manager", `{"region": "us-east-1", "secretAccessKey": "` + secretCanary + `"}`, "AWS", false, ledgererr.Invalid, ErrSensitiveConfig, ""},
		{"upper case", "aws_secrets_manager", `{"region": "us-east-1", "ACCESSKEYID": "` + secretCanary + `"}`, "AWS", false, ledgererr.Invalid, ErrSensitiveConfig, ""},
		{"snake case", "aws_secrets_manager", `{"region": "us-east-1", "secret_access_key": "` + secretCanary + `"}`, "AWS", false, ledgererr.Invalid, ErrSensitiveConfig, ""},
		{"nested", "aws_secrets_manager", `{"region": "us-east-1", "auth": {"inner": [{"Password": "` + secretCanary + `"}]}}`, "AWS", false, ledgererr.Invalid, ErrSensitiveConfig, ""},
		{"on local", "local_encrypted", `{"token": "` + secretCanary + `"}`, "L", false, ledgererr.Invalid, ErrSensitiveConfig, ""},
		{"on vault", "vault", `{"unsealKey": "` + secretCanary + `"}`, "HCV", false, ledgererr.Invalid, ErrSensitiveConfig, ""},
		{"on gcp", "gcp_secret_manager", `{"serviceAccountJson": {"private_key": "` + secretCanary + `"}}`, "G", false, ledgererr.Invalid, ErrSensitiveConfig, ""},
		{"with a bad name too", "aws_secrets_manager", `{"tokenFile": "/x"}`, "", false, ledgererr.Invalid, ErrSensitiveConfig, ""},
		{"with an unknown provider", "azure", `{"clientSecret": "` + secretCanary + `"}`, "A", false, ledgererr.Invalid, ErrSensitiveConfig, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var raw map[string]any
			if c.config != "" {
				raw = cfg(t, c.config)
			}
			d, err := decideCreateVault(newVaults(), "V1", CreateVault{CompanyID: "co", DisplayName: c.displayName,
				Provider: c.provider, Config: raw, IsDefault: c.isDefault})
			if got := ledgererr.CodeOf(err); got != c.code {
				t.Fatalf("code %q (%v), want %q", got, err, c.code)
			}
			if err != nil {
				if !strings.Contains(err.Error(), c.msg) {
					t.Errorf("message %q does not say %q", err, c.msg)
				}
				if strings.Contains(err.Error(), secretCanary) {
					t.Errorf("the refusal echoes the value: %v", err)
				}
				return
			}
			st := foldDecision(t, newVaults(), d)
			v := st.vaults["V1"]
			if v.Status != c.status || v.IsDefault != c.isDefault || v.Provider != c.provider {
				t.Errorf("vault %+v", v)
			}
		})
	}
}

func TestConfigIsStoredNormalised(t *testing.T) {
	d, err := decideCreateVault(newVaults(), "V1", CreateVault{DisplayName: "x", Provider: "vault",
		Config: cfg(t, `{"address": "https://v.example.com:8200/", "mount": ""}`)})
	if err != nil {
		t.Fatal(err)
	}
	got := d.events[0].payload.(events.VaultCreatedV1).Config
	if len(got) != 1 || got["address"] != "https://v.example.com:8200" {
		t.Fatalf("config %v", got)
	}
}

// twoAWS is a company with two AWS vaults, A the default, and a local one.
func twoAWS(t *testing.T) vaultsState {
	st := newVaults()
	for _, c := range []struct {
		id, provider, config string
		isDefault            bool
	}{{"A", "aws_secrets_manager", `{"region": "us-east-1"}`, true}, {"B", "aws_secrets_manager", `{"region": "eu-west-1"}`, false},
		{"L", "local_encrypted", `{}`, true}, {"G", "gcp_secret_manager", `{}`, false}} {
		d, err := decideCreateVault(st, c.id, CreateVault{DisplayName: c.id, Provider: c.provider, Config: cfg(t, c.config), IsDefault: c.isDefault})
		if err != nil {
			t.Fatal(err)
		}
		st = foldDecision(t, st, d)
	}
	return st
}

func defaults(st vaultsState) []string {
	var out []string
	for _, id := range []string{"A", "B", "L", "G"} {
		if st.vaults[id].IsDefault {
			out = append(out, id)
		}
	}
	return out
}

func TestDefaultRules(t *testing.T) {
	st := twoAWS(t)
	if got := strings.Join(defaults(st), ","); got != "A,L" {
		t.Fatalf("defaults %s", got)
	}
	// A new default of a provider clears the old one in the same event.
	d, err := decideSetDefault(st, "B")
	if err != nil || len(d.events) != 1 || d.events[0].payload.(events.VaultDefaultSetV1).PreviousDefaultID != "A" {
		t.Fatalf("set default B: %+v %v", d, err)
	}
	st = foldDecision(t, st, d)
	if got := strings.Join(defaults(st), ","); got != "B,L" {
		t.Fatalf("defaults after B: %s", got)
	}
	// Already the default: nothing to write.
	if d, err := decideSetDefault(st, "B"); err != nil || len(d.events) != 0 {
		t.Fatalf("repeat: %+v %v", d, err)
	}
	// Creating a new default replaces the old one too.
	d, err = decideCreateVault(st, "C", CreateVault{DisplayName: "C", Provider: "aws_secrets_manager", Config: cfg(t, `{"region": "us-west-2"}`), IsDefault: true})
	if err != nil || len(d.events) != 2 || d.events[1].payload.(events.VaultDefaultSetV1).PreviousDefaultID != "B" {
		t.Fatalf("create default: %+v %v", d, err)
	}
	// coming_soon, disabled and unknown vaults cannot be defaults.
	if _, err := decideSetDefault(st, "G"); ledgererr.CodeOf(err) != ledgererr.Invalid {
		t.Errorf("coming_soon default: %v", err)
	}
	if _, err := decideSetDefault(st, "nope"); ledgererr.CodeOf(err) != ledgererr.NotFound {
		t.Errorf("unknown default: %v", err)
	}
	// Disabling clears the default; disabling again writes nothing; a disabled vault
	// cannot become the default, nor be changed.
	d, err = decideDisable(st, "B")
	if err != nil || len(d.events) != 1 {
		t.Fatalf("disable: %+v %v", d, err)
	}
	st = foldDecision(t, st, d)
	if v := st.vaults["B"]; v.IsDefault || v.Status != VaultDisabled {
		t.Fatalf("disabled vault %+v", v)
	}
	if got := strings.Join(defaults(st), ","); got != "L" {
		t.Fatalf("defaults after disable: %s", got)
	}
	if d, err := decideDisable(st, "B"); err != nil || len(d.events) != 0 {
		t.Fatalf("repeat disable: %+v %v", d, err)
	}
	if _, err := decideSetDefault(st, "B"); ledgererr.CodeOf(err) != ledgererr.Invalid {
		t.Errorf("disabled default: %v", err)
	}
	if _, err := decideUpdateVault(st, UpdateVault{VaultID: "B", DisplayName: ptr("x")}); ledgererr.CodeOf(err) != ledgererr.Invalid {
		t.Errorf("update of a disabled vault: %v", err)
	}
	// A was not the default when B was disabled: it does not become one again.
	if st.vaults["A"].IsDefault {
		t.Error("disabling B made A the default again")
	}
}

func TestDecideUpdateVault(t *testing.T) {
	st := twoAWS(t)
	cases := []struct {
		name   string
		in     UpdateVault
		code   ledgererr.Code
		msg    string
		writes bool
	}{
		{"rename", UpdateVault{VaultID: "A", DisplayName: ptr(" AWS prod ")}, "", "", true},
		{"same name", UpdateVault{VaultID: "A", DisplayName: ptr("A")}, "", "", false},
		{"same provider", UpdateVault{VaultID: "A", Provider: ptr("aws_secrets_manager")}, "", "", false},
		{"other provider", UpdateVault{VaultID: "A", Provider: ptr("local_encrypted")}, ledgererr.Invalid, "provider cannot be changed", false},
		{"new config", UpdateVault{VaultID: "A", Config: cfg(t, `{"region": "us-east-2"}`)}, "", "", true},
		{"same config", UpdateVault{VaultID: "A", Config: cfg(t, `{"region": "us-east-1"}`)}, "", "", false},
		{"config revalidated", UpdateVault{VaultID: "A", Config: cfg(t, `{"namespace": "x"}`)}, ledgererr.Invalid, "config.region is required", false},
		{"namespace of segments", UpdateVault{VaultID: "A", Config: cfg(t, `{"region": "us-east-1", "namespace": "team/prod"}`)}, "", "", true},
		{"namespace ..", UpdateVault{VaultID: "A", Config: cfg(t, `{"region": "us-east-1", "namespace": ".."}`)}, ledgererr.Invalid, "config.namespace", false},
		{"prefix a//b", UpdateVault{VaultID: "A", Config: cfg(t, `{"region": "us-east-1", "secretNamePrefix": "a//b"}`)}, ledgererr.Invalid, "config.secretNamePrefix", false},
		{"unknown key", UpdateVault{VaultID: "L", Config: cfg(t, `{"x": "y"}`)}, ledgererr.Invalid, "unknown config key", false},
		{"sensitive first", UpdateVault{VaultID: "A", Provider: ptr("vault"), Config: cfg(t, `{"x": {"SessionToken": "`+secretCanary+`"}}`)}, ledgererr.Invalid, ErrSensitiveConfig, false},
		{"bad name", UpdateVault{VaultID: "A", DisplayName: ptr("")}, ledgererr.Invalid, "displayName", false},
		{"unknown vault", UpdateVault{VaultID: "Z", DisplayName: ptr("x")}, ledgererr.NotFound, "not found", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, err := decideUpdateVault(st, c.in)
			if got := ledgererr.CodeOf(err); got != c.code {
				t.Fatalf("code %q (%v), want %q", got, err, c.code)
			}
			if err != nil && (!strings.Contains(err.Error(), c.msg) || strings.Contains(err.Error(), secretCanary)) {
				t.Errorf("message %q, want one saying %q without the value", err, c.msg)
			}
			if (len(d.events) > 0) != c.writes {
				t.Errorf("events %+v, want writes=%v", d.events, c.writes)
			}
		})
	}
}

func TestDecideHealth(t *testing.T) {
	st := twoAWS(t)
	// ok → ready; the same status again writes nothing; error → warning; then a new
	// config forgets the check and the vault is ready again.
	steps := []struct {
		vault, health string
		writes        bool
		status        string
	}{
		{"A", HealthOK, true, VaultReady},
		{"A", HealthOK, false, VaultReady},
		{"A", HealthError, true, VaultWarning},
		{"A", HealthError, false, VaultWarning},
		{"A", "bogus", false, VaultWarning}, // not ok or warning: counts as error, unchanged
		{"A", HealthWarning, true, VaultWarning},
		{"G", HealthOK, false, VaultComingSoon}, // coming_soon: never checked
	}
	for i, s := range steps {
		d, err := decideHealth(st, s.vault, s.health, "m", nil)
		if err != nil || (len(d.events) > 0) != s.writes {
			t.Fatalf("step %d: %+v %v", i, d, err)
		}
		st = foldDecision(t, st, d)
		if got := st.vaults[s.vault].Status; got != s.status {
			t.Fatalf("step %d: status %s, want %s", i, got, s.status)
		}
	}
	// A warning vault may still be the default.
	if _, err := decideSetDefault(st, "A"); err != nil {
		t.Fatalf("warning vault as default: %v", err)
	}
	d, _ := decideUpdateVault(st, UpdateVault{VaultID: "A", Config: cfg(t, `{"region": "us-east-2"}`)})
	st = foldDecision(t, st, d)
	if v := st.vaults["A"]; v.Status != VaultReady || v.HealthStatus != "" {
		t.Fatalf("after a new config: %+v", v)
	}
	st = foldDecision(t, st, decision{events: []vaultEvent{{events.VaultDisabled, events.VaultDisabledV1{VaultID: "B"}}}})
	if d, err := decideHealth(st, "B", HealthOK, "", nil); err != nil || len(d.events) != 0 {
		t.Fatalf("disabled vault checked: %+v %v", d, err)
	}
}

func TestDefaultVaultHealth(t *testing.T) {
	h := DefaultVaultHealth{}
	if s, _, _ := h.Check(context.Background(), Vault{Provider: "local_encrypted"}); s != HealthOK {
		t.Errorf("local: %s", s)
	}
	if s, m, _ := h.Check(context.Background(), Vault{Provider: "aws_secrets_manager"}); s != HealthWarning || !strings.Contains(m, "not checked") {
		t.Errorf("aws: %s %s", s, m)
	}
}

// withVaults is a company holding n local vaults, the last of them disabled.
func withVaults(t *testing.T, n int) vaultsState {
	t.Helper()
	st := newVaults()
	for i := range n {
		d, err := decideCreateVault(st, fmt.Sprintf("V%03d", i), CreateVault{DisplayName: "v", Provider: "local_encrypted"})
		if err != nil {
			t.Fatal(err)
		}
		st = foldDecision(t, st, d)
	}
	if n > 0 {
		d, err := decideDisable(st, fmt.Sprintf("V%03d", n-1))
		if err != nil {
			t.Fatal(err)
		}
		st = foldDecision(t, st, d)
	}
	return st
}

// A company holds at most MaxVaultsPerCompany vaults, disabled ones included (they still
// serve the secrets they hold). The cap is decided on the stream's state, so the append
// condition keeps concurrent creates within it.
func TestVaultsPerCompanyAreCapped(t *testing.T) {
	create := CreateVault{DisplayName: "one more", Provider: "aws_secrets_manager", Config: cfg(t, `{"region": "us-east-1"}`)}
	if _, err := decideCreateVault(withVaults(t, MaxVaultsPerCompany-1), "NEW", create); err != nil {
		t.Fatalf("vault %d of %d: %v", MaxVaultsPerCompany, MaxVaultsPerCompany, err)
	}
	d, err := decideCreateVault(withVaults(t, MaxVaultsPerCompany), "NEW", create)
	if ledgererr.CodeOf(err) != ledgererr.Invalid || !strings.Contains(err.Error(), fmt.Sprintf("at most %d provider vaults", MaxVaultsPerCompany)) {
		t.Fatalf("vault %d: %v, want EINVALID naming the limit", MaxVaultsPerCompany+1, err)
	}
	if len(d.events) != 0 {
		t.Fatalf("a refused create decided events %+v", d.events)
	}
	// The credential check still answers first.
	_, err = decideCreateVault(withVaults(t, MaxVaultsPerCompany), "NEW", CreateVault{DisplayName: "x", Provider: "aws_secrets_manager",
		Config: cfg(t, `{"password": "`+secretCanary+`"}`)})
	if err == nil || !strings.Contains(err.Error(), ErrSensitiveConfig) {
		t.Fatalf("credential refusal at the cap: %v", err)
	}
}

// A vault stored before its config's rule was tightened (namespace "..") is not made a
// default: the stored config is checked with the create and PATCH rule.
func TestStoredUnusableConfigCannotBeDefault(t *testing.T) {
	st := newVaults()
	st = foldDecision(t, st, decision{vaultID: "OLD", events: []vaultEvent{{events.VaultCreated, events.VaultCreatedV1{VaultID: "OLD",
		DisplayName: "old", Provider: "aws_secrets_manager", Status: VaultReady,
		Config: map[string]string{"region": "us-east-1", "namespace": ".."}}}}})
	d, err := decideSetDefault(st, "OLD")
	if ledgererr.CodeOf(err) != ledgererr.Invalid || !strings.Contains(err.Error(), "config.namespace") || len(d.events) != 0 {
		t.Fatalf("default of an unusable vault: %v %+v, want EINVALID naming config.namespace", err, d.events)
	}
	if err := CheckVaultConfig("aws_secrets_manager", st.vaults["OLD"].Config); err == nil || !strings.Contains(err.Error(), "config.namespace") {
		t.Fatalf("CheckVaultConfig of the stored config: %v", err)
	}
	fixed, err := decideUpdateVault(st, UpdateVault{VaultID: "OLD", Config: cfg(t, `{"region": "us-east-1", "namespace": "team/prod"}`)})
	if err != nil {
		t.Fatalf("PATCH that fixes it: %v", err)
	}
	if _, err := decideSetDefault(foldDecision(t, st, fixed), "OLD"); err != nil {
		t.Fatalf("default once fixed: %v", err)
	}
}
