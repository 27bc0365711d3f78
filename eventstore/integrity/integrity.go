package integrity

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// secretSize is the size of the key file's secret.
const secretSize = 32

// Labels of the derived keys.
// WARNING: changing one invalidates every stored credential hash or every event MAC.
const (
	credentialInfo = "secretsledger credential-hash v1"
	eventInfo      = "secretsledger event-mac v1"
	answerInfo     = "secretsledger idempotent-answer v1"
)

// Key is the instance's integrity key. The zero Key is not usable: every method panics
// on it rather than compute an unkeyed value.
type Key struct {
	credential, event, answer []byte
}

// FromSecret derives a Key from a 32-byte secret.
func FromSecret(secret []byte) (Key, error) {
	if len(secret) != secretSize {
		return Key{}, fmt.Errorf("integrity: the secret is %d bytes, want %d", len(secret), secretSize)
	}
	derive := func(info string) []byte {
		k, err := hkdf.Key(sha256.New, secret, nil, info, sha256.Size)
		if err != nil { // only for lengths beyond 255 hash sizes
			panic(err)
		}
		return k
	}
	return Key{credential: derive(credentialInfo), event: derive(eventInfo), answer: derive(answerInfo)}, nil
}

// Fingerprint names the key without revealing it (the first 8 bytes of a hash of the
// credential key), for doctor and error messages that must tell keys apart.
func (k Key) Fingerprint() string {
	sum := sha256.Sum256(k.mustCredential())
	return fmt.Sprintf("%x", sum[:8])
}

func (k Key) mustCredential() []byte {
	if k.credential == nil {
		panic("integrity: zero Key")
	}
	return k.credential
}

// CredentialHash is what a bearer credential (board token, agent key, console session
// id) is stored and looked up as: HMAC-SHA-256 of its SHA-256 under the credential key.
// Hashing first lets a row stored before keying (a bare SHA-256) be upgraded in place
// with KeyStoredHash, without the credential.
func (k Key) CredentialHash(credential string) []byte {
	sum := sha256.Sum256([]byte(credential))
	return k.KeyStoredHash(sum[:])
}

// KeyStoredHash keys an unkeyed SHA-256 stored before the upgrade:
// KeyStoredHash(sha256(c)) == CredentialHash(c).
func (k Key) KeyStoredHash(unkeyed []byte) []byte {
	m := hmac.New(sha256.New, k.mustCredential())
	m.Write(unkeyed)
	return m.Sum(nil)
}

// EventMAC authenticates an event by its chain hash, which already covers the event's
// content and its predecessor's hash.
func (k Key) EventMAC(hash []byte) []byte {
	if k.event == nil {
		panic("integrity: zero Key")
	}
	m := hmac.New(sha256.New, k.event)
	m.Write(hash)
	return m.Sum(nil)
}

// VerifyEventMAC reports whether mac authenticates hash, in constant time.
func (k Key) VerifyEventMAC(hash, mac []byte) bool {
	return len(mac) == sha256.Size && hmac.Equal(k.EventMAC(hash), mac)
}

// SealAnswer encrypts and authenticates an answer kept for an idempotent retry
// (AES-256-GCM under a key derived for this alone), bound to aad: some answers hold a
// credential shown once, and the database that keeps them must not be enough to read
// them, nor to move one to another caller or key.
func (k Key) SealAnswer(plain, aad []byte) ([]byte, error) {
	aead, err := k.answerAEAD()
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, aead.NonceSize())
	_, _ = rand.Read(nonce)
	return aead.Seal(nonce, nonce, plain, aad), nil
}

// OpenAnswer reverses SealAnswer; a sealed answer altered, sealed under another key or
// bound to another aad is an error.
func (k Key) OpenAnswer(sealed, aad []byte) ([]byte, error) {
	aead, err := k.answerAEAD()
	if err != nil {
		return nil, err
	}
	if len(sealed) < aead.NonceSize() {
		return nil, errors.New("integrity: the sealed answer is too short")
	}
	plain, err := aead.Open(nil, sealed[:aead.NonceSize()], sealed[aead.NonceSize():], aad)
	if err != nil {
		return nil, errors.New("integrity: the sealed answer does not open under this key")
	}
	return plain, nil
}

func (k Key) answerAEAD() (cipher.AEAD, error) {
	if k.answer == nil {
		panic("integrity: zero Key")
	}
	block, err := aes.NewCipher(k.answer)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// Load reads the key file (the base64 of a 32-byte secret). A file that group or others
// may read is refused: whoever reads it can mint credential hashes and event MACs.
func Load(path string) (Key, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return Key{}, fmt.Errorf("integrity: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return Key{}, fmt.Errorf("integrity: %s is readable by others (mode %04o): chmod 600 it", path, fi.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return Key{}, fmt.Errorf("integrity: %w", err)
	}
	secret, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(secret) != secretSize {
		return Key{}, fmt.Errorf("integrity: %s does not hold the base64 of a %d-byte secret", path, secretSize)
	}
	return FromSecret(secret)
}

// LoadOrCreate reads the key file, or creates one (0600, in a 0700 directory) when it
// does not exist. created says which.
func LoadOrCreate(path string) (key Key, created bool, err error) {
	key, err = Load(path)
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		return key, false, err
	}
	secret := make([]byte, secretSize)
	if _, err := rand.Read(secret); err != nil {
		return Key{}, false, fmt.Errorf("integrity: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return Key{}, false, fmt.Errorf("integrity: create %s: %w", filepath.Dir(path), err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) { // another process made it first
		key, err = Load(path)
		return key, false, err
	}
	if err != nil {
		return Key{}, false, fmt.Errorf("integrity: create %s: %w", path, err)
	}
	if _, err := f.WriteString(base64.StdEncoding.EncodeToString(secret) + "\n"); err != nil {
		f.Close()
		return Key{}, false, fmt.Errorf("integrity: write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return Key{}, false, fmt.Errorf("integrity: write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return Key{}, false, fmt.Errorf("integrity: write %s: %w", path, err)
	}
	key, err = FromSecret(secret)
	return key, true, err
}
