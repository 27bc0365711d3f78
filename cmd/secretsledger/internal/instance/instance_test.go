package instance

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPrepareCreatesPrivateLayout(t *testing.T) {
	path := filepath.Join(t.TempDir(), "instances", "default")
	d, err := Prepare(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, sub := range []string{"db", "secrets", "nats", "backups"} {
		fi, err := os.Stat(filepath.Join(path, sub))
		if err != nil || fi.Mode().Perm() != 0o700 {
			t.Fatalf("%s: %v, mode %v", sub, err, fi.Mode())
		}
	}
	if got := d.Check(); len(got) != 0 {
		t.Fatalf("fresh instance has findings: %+v", got)
	}
	if err := os.Chmod(filepath.Join(path, "secrets"), 0o755); err != nil {
		t.Fatal(err)
	}
	got := d.Check()
	if len(got) != 1 || !got[0].Warning || !strings.Contains(got[0].Message, "secrets") {
		t.Fatalf("readable secrets/ not reported: %+v", got)
	}
}

func TestPrepareNamesTheUnwritablePath(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Prepare(filepath.Join(file, "instance"))
	var nw *NotWritableError
	if !errors.As(err, &nw) || !strings.Contains(err.Error(), filepath.Join(file, "instance")) {
		t.Fatalf("err = %v", err)
	}
}
