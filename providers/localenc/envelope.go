package localenc

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/secretsledger/secretsledger/providers"
)

// formatV1 prefixes every wrapped key and ciphertext, so the format can change later.
// WARNING: persisted.
const formatV1 byte = 1

// AAD labels. WARNING: persisted (part of every stored ciphertext's authentication).
const (
	aadDataKey = "secretsledger/data-key/v1"
	aadValue   = "secretsledger/value/v1"
)

// Sealer encrypts and decrypts secret values under one master key.
type Sealer struct {
	master cipher.AEAD
	key    MasterKey
	fpKey  []byte
}

// NewSealer returns a Sealer for k. The fingerprint key is derived from the master key
// (HKDF-SHA256), so fingerprints are HMACs no one without the key can compute.
func NewSealer(k MasterKey) (*Sealer, error) {
	aead, err := newGCM(k.key[:])
	if err != nil {
		return nil, err
	}
	fpKey, err := hkdf.Key(sha256.New, k.key[:], nil, "secretsledger fingerprint v1", 32)
	if err != nil {
		return nil, fmt.Errorf("localenc: derive fingerprint key: %w", err)
	}
	return &Sealer{master: aead, key: k, fpKey: fpKey}, nil
}

// Key returns the master key the sealer uses (it prints only its fingerprint).
func (s *Sealer) Key() MasterKey { return s.key }

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("localenc: %w", err)
	}
	return cipher.NewGCM(block)
}

// aad binds a ciphertext to its place: label, company, secret and (for values) version,
// each length-prefixed so that no two places share an encoding.
func aad(label, company, secret string, version int) []byte {
	var b []byte
	for _, f := range []string{label, company, secret, fmt.Sprint(version)} {
		b = binary.BigEndian.AppendUint32(b, uint32(len(f)))
		b = append(b, f...)
	}
	return b
}

func seal(aead cipher.AEAD, plaintext, ad []byte) []byte {
	nonce := make([]byte, aead.NonceSize())
	_, _ = rand.Read(nonce) // crypto/rand.Read never fails on supported platforms
	out := append([]byte{formatV1}, nonce...)
	return aead.Seal(out, nonce, plaintext, ad)
}

var errFormat = errors.New("unknown format")

func open(aead cipher.AEAD, sealed, ad []byte) ([]byte, error) {
	if len(sealed) < 1+aead.NonceSize()+aead.Overhead() || sealed[0] != formatV1 {
		return nil, errFormat
	}
	nonce := sealed[1 : 1+aead.NonceSize()]
	return aead.Open(nil, nonce, sealed[1+aead.NonceSize():], ad)
}

// DecryptError says a wrapped key or ciphertext did not open. It names the key by its
// fingerprint and the secret by id, never any secret material.
type DecryptError struct {
	What           string // "data key" or "value"
	Secret         string
	Version        int
	KeyFingerprint string
}

func (e *DecryptError) Error() string {
	v := ""
	if e.Version > 0 {
		v = fmt.Sprintf(" version %d", e.Version)
	}
	return fmt.Sprintf("localenc: cannot decrypt the %s of secret %s%s with master key %s: wrong master key, or the stored data was altered or moved",
		e.What, e.Secret, v, e.KeyFingerprint)
}

// NewDataKey creates a secret's data key and returns it wrapped by the master key.
// Destroying the wrapped key crypto-shreds every version of the secret.
func (s *Sealer) NewDataKey(company, secret string) []byte {
	dk := make([]byte, KeySize)
	_, _ = rand.Read(dk)
	return seal(s.master, dk, aad(aadDataKey, company, secret, 0))
}

func (s *Sealer) unwrap(wrapped []byte, company, secret string, version int) (cipher.AEAD, error) {
	dk, err := open(s.master, wrapped, aad(aadDataKey, company, secret, 0))
	if err != nil {
		return nil, &DecryptError{What: "data key", Secret: secret, Version: version, KeyFingerprint: s.key.Fingerprint()}
	}
	return newGCM(dk)
}

// Encrypt seals v for one version of a secret under its data key.
func (s *Sealer) Encrypt(wrapped []byte, company, secret string, version int, v providers.Value) ([]byte, error) {
	aead, err := s.unwrap(wrapped, company, secret, version)
	if err != nil {
		return nil, err
	}
	return seal(aead, v.Reveal(), aad(aadValue, company, secret, version)), nil
}

// Decrypt opens the ciphertext of one version of a secret.
func (s *Sealer) Decrypt(wrapped, ciphertext []byte, company, secret string, version int) (providers.Value, error) {
	aead, err := s.unwrap(wrapped, company, secret, version)
	if err != nil {
		return providers.Value{}, err
	}
	pt, err := open(aead, ciphertext, aad(aadValue, company, secret, version))
	if err != nil {
		return providers.Value{}, &DecryptError{What: "value", Secret: secret, Version: version, KeyFingerprint: s.key.Fingerprint()}
	}
	return providers.NewValue(pt), nil
}

// Rewrap re-encrypts a wrapped data key under another master key (rekey): the values'
// ciphertexts, sealed by the data key, stay as they are.
func (s *Sealer) Rewrap(wrapped []byte, company, secret string, to *Sealer) ([]byte, error) {
	dk, err := open(s.master, wrapped, aad(aadDataKey, company, secret, 0))
	if err != nil {
		return nil, &DecryptError{What: "data key", Secret: secret, KeyFingerprint: s.key.Fingerprint()}
	}
	return seal(to.master, dk, aad(aadDataKey, company, secret, 0)), nil
}

// companyFingerprintInfo is the HKDF info prefix of a company's fingerprint key (the
// company id follows it). WARNING: persisted: the fingerprints in the log were made
// with keys derived with it.
const companyFingerprintInfo = "secretsledger company fingerprint v1\x00"

// Fingerprint is the hex HMAC-SHA256 of v under company's fingerprint key, derived from
// the instance's (HKDF-Expand, the company id in the info): equal values of one company
// have equal fingerprints, equal values of two companies do not, so a tenant who can
// create secrets cannot test a guess against another company's fingerprints, and no one
// without the master key can test one at all.
func (s *Sealer) Fingerprint(company string, v providers.Value) string {
	key, err := hkdf.Expand(sha256.New, s.fpKey, companyFingerprintInfo+company, sha256.Size)
	if err != nil {
		// Expand fails only for lengths beyond 255 hash sizes (or below FIPS's minimum).
		panic(fmt.Sprintf("localenc: derive a company fingerprint key: %v", err))
	}
	return hmacHex(key, v.Reveal())
}

// RequestHash is the hex HMAC-SHA256 of a request under the instance's fingerprint key,
// for idempotency: request bodies carry secret values, so a bare hash would be a
// guessable digest. It never leaves the database.
func (s *Sealer) RequestHash(b []byte) []byte { return []byte(hmacHex(s.fpKey, b)) }

func hmacHex(key, b []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write(b)
	return hex.EncodeToString(m.Sum(nil))
}
