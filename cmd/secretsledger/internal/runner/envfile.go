package runner

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// envName is a name a shell can assign: what an env file line may start with.
var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// EnvFileText is the env file's content: one line KEY='value' per resolved entry, sorted
// by name, each value single-quoted as a POSIX shell reads it (a ' in it written '\”; a
// newline stays inside the quotes), so `set -a; . FILE; set +a` loads it. An entry that is,
// or holds, the agent key is left out, as from the child's environment. A name a shell
// cannot assign is an error, not a line left out: the file must hold everything.
func EnvFileText(env map[string]string, agentKey string) (string, error) {
	names := make([]string, 0, len(env))
	for k := range env {
		names = append(names, k)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, k := range names {
		v := env[k]
		if k == AgentKeyVar || (agentKey != "" && strings.Contains(v, agentKey)) {
			continue
		}
		if !envName.MatchString(k) {
			return "", fmt.Errorf("write the env file: %q is not a name a shell can assign", k)
		}
		b.WriteString(k + "='" + strings.ReplaceAll(v, "'", `'\''`) + "'\n")
	}
	return b.String(), nil
}

// WriteEnvFile writes env to path, mode 0600, atomically: into a new file in the same
// directory (created 0600, so never readable by others), synced, then renamed over path,
// and the directory synced. A reader sees the old file or the new one, never a part, and
// never a wider mode; a symlink at path is replaced, not followed.
func WriteEnvFile(path string, env map[string]string, agentKey string) error {
	text, err := EnvFileText(env, agentKey)
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write the env file: %w", err)
	}
	defer os.Remove(tmp.Name()) // gone after the rename; left by nothing on failure
	_, err = tmp.WriteString(text)
	if err == nil {
		err = tmp.Chmod(0o600)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("write the env file: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync() // the rename is durable; a file system that cannot sync a directory is no reason to fail
		d.Close()
	}
	return nil
}
