package commands

import (
	"strings"
	"testing"

	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
	"github.com/secretsledger/secretsledger/providers"
)

func val(s string) *providers.Value { v := providers.NewValue([]byte(s)); return &v }
func ptr[T any](v T) *T             { return &v }

func TestNormalizeKey(t *testing.T) {
	for in, want := range map[string]string{
		"OpenAI API Key":         "openai-api-key",
		"  --Stripe__live.v2-- ": "stripe__live.v2",
		"a/b\\c d":               "a-b-c-d",
		"***":                    "",
		"Ünïcode naïve":          "n-code-na-ve",
		strings.Repeat("k", 130): strings.Repeat("k", 120),
	} {
		if got := NormalizeKey(in); got != want {
			t.Errorf("NormalizeKey(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestDecideCreate(t *testing.T) {
	cases := []struct {
		name string
		in   CreateSecret
		code ledgererr.Code
		key  string
	}{
		{"managed", CreateSecret{Name: " OpenAI ", Value: val("v")}, "", "openai"},
		{"explicit key", CreateSecret{Name: "x", Key: "My Key", Value: val("v")}, "", "my-key"},
		{"empty name", CreateSecret{Name: "  ", Value: val("v")}, ledgererr.Invalid, ""},
		{"long name", CreateSecret{Name: strings.Repeat("n", 161), Value: val("v")}, ledgererr.Invalid, ""},
		{"160 runes", CreateSecret{Name: strings.Repeat("é", 160), Key: "k", Value: val("v")}, "", "k"},
		{"key normalises to nothing", CreateSecret{Name: "x", Key: "%%%", Value: val("v")}, ledgererr.Invalid, ""},
		{"managed without value", CreateSecret{Name: "x"}, ledgererr.Invalid, ""},
		{"managed with empty value", CreateSecret{Name: "x", Value: val("")}, ledgererr.Invalid, ""},
		{"managed with externalRef", CreateSecret{Name: "x", Value: val("v"), ExternalRef: "arn"}, ledgererr.Invalid, ""},
		{"value too large", CreateSecret{Name: "x", Value: val(strings.Repeat("v", MaxValueBytes+1))}, ledgererr.Invalid, ""},
		{"value at the limit", CreateSecret{Name: "x", Value: val(strings.Repeat("v", MaxValueBytes))}, "", "x"},
		{"redaction marker", CreateSecret{Name: "x", Value: val("***REDACTED***")}, ledgererr.Invalid, ""},
		{"external", CreateSecret{Name: "x", ManagedMode: ExternalReference, ExternalRef: "arn:aws:x"}, "", "x"},
		{"external without ref", CreateSecret{Name: "x", ManagedMode: ExternalReference}, ledgererr.Invalid, ""},
		{"external with value", CreateSecret{Name: "x", ManagedMode: ExternalReference, ExternalRef: "arn", Value: val("v")}, ledgererr.Invalid, ""},
		{"unknown mode", CreateSecret{Name: "x", ManagedMode: "other", Value: val("v")}, ledgererr.Invalid, ""},
	}
	for _, tc := range cases {
		got, err := decideCreate(tc.in)
		if ledgererr.CodeOf(err) != tc.code {
			t.Errorf("%s: error %v, want code %q", tc.name, err, tc.code)
			continue
		}
		if err == nil && (got.Key != tc.key || got.Provider != "") { // the provider is decided by placement
			t.Errorf("%s: key %q provider %q", tc.name, got.Key, got.Provider)
		}
	}
}

func TestDecideRotate(t *testing.T) {
	managed := secretState{exists: true, status: StatusActive, managedMode: ManagedByLedger, latestVersion: 2}
	external := secretState{exists: true, status: StatusActive, managedMode: ExternalReference, latestVersion: 1}
	deleted, disabled := managed, managed
	deleted.deleted = true
	disabled.status = StatusDisabled
	cases := []struct {
		name string
		st   secretState
		in   RotateSecret
		code ledgererr.Code
	}{
		{"managed", managed, RotateSecret{Value: val("v")}, ""},
		{"matching CAS", managed, RotateSecret{Value: val("v"), ExpectedLatestVersion: ptr(2)}, ""},
		{"stale CAS", managed, RotateSecret{Value: val("v"), ExpectedLatestVersion: ptr(1)}, ledgererr.Conflict},
		{"deleted", deleted, RotateSecret{Value: val("v")}, ledgererr.NotFound},
		{"disabled", disabled, RotateSecret{Value: val("v")}, ledgererr.Invalid},
		{"managed without value", managed, RotateSecret{}, ledgererr.Invalid},
		{"managed with ref", managed, RotateSecret{Value: val("v"), ExternalRef: "arn"}, ledgererr.Invalid},
		{"external", external, RotateSecret{ExternalRef: "arn:2"}, ""},
		{"external version ref only", external, RotateSecret{ProviderVersionRef: "v2"}, ""},
		{"external without ref", external, RotateSecret{}, ledgererr.Invalid},
		{"external with value", external, RotateSecret{Value: val("v"), ExternalRef: "arn"}, ledgererr.Invalid},
	}
	for _, tc := range cases {
		if got := ledgererr.CodeOf(decideRotate(tc.st, tc.in)); got != tc.code {
			t.Errorf("%s: code %q, want %q", tc.name, got, tc.code)
		}
	}
	if err := decideRotate(disabled, RotateSecret{Value: val("v")}); ledgererr.MessageOf(err) != "Cannot rotate a non-active secret" {
		t.Errorf("message %q", ledgererr.MessageOf(err))
	}
}

func TestDecideUpdate(t *testing.T) {
	managed := secretState{exists: true, status: StatusActive, managedMode: ManagedByLedger, name: "A", key: "a"}
	external := managed
	external.managedMode = ExternalReference
	cases := []struct {
		name     string
		st       secretState
		in       UpdateSecret
		code     ledgererr.Code
		asDelete bool
		changed  bool
	}{
		{"rename", managed, UpdateSecret{Name: ptr("B")}, "", false, true},
		{"same name is no change", managed, UpdateSecret{Name: ptr(" A ")}, "", false, false},
		{"same key after normalising", managed, UpdateSecret{Key: ptr("A")}, "", false, false},
		{"disable", managed, UpdateSecret{Status: ptr(StatusDisabled)}, "", false, true},
		{"unknown status", managed, UpdateSecret{Status: ptr("frozen")}, ledgererr.Invalid, false, false},
		{"managed deleted by status", managed, UpdateSecret{Status: ptr(StatusDeleted)}, ledgererr.Invalid, false, false},
		{"external deleted by status", external, UpdateSecret{Status: ptr(StatusDeleted)}, "", true, false},
		{"managed externalRef", managed, UpdateSecret{ExternalRef: ptr("arn")}, ledgererr.Invalid, false, false},
		{"external retarget", external, UpdateSecret{ExternalRef: ptr("arn")}, ledgererr.Invalid, false, false},
		{"empty name", managed, UpdateSecret{Name: ptr("")}, ledgererr.Invalid, false, false},
	}
	for _, tc := range cases {
		p, asDelete, err := decideUpdate(tc.st, tc.in)
		changed := p.Name != nil || p.Key != nil || p.Description != nil || p.Status != nil
		if ledgererr.CodeOf(err) != tc.code || asDelete != tc.asDelete || (err == nil && changed != tc.changed) {
			t.Errorf("%s: err %v, asDelete %v, changed %v", tc.name, err, asDelete, changed)
		}
	}
}
