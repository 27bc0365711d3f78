package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// boundedDuration reads name as a Go duration from lo to hi, def when unset; with off,
// 0 is accepted too (the feature is off).
func boundedDuration(getenv func(string) string, name string, def, lo, hi time.Duration, off bool, problems []string) (time.Duration, []string) {
	v := getenv(name)
	if v == "" {
		return def, problems
	}
	d, err := time.ParseDuration(v)
	if err != nil || (!(off && d == 0) && (d < lo || d > hi)) {
		want := fmt.Sprintf("a duration from %s to %s (e.g. %s)", shortDuration(lo), shortDuration(hi), shortDuration(def))
		if off {
			want = "0 (off) or " + want
		}
		problems = append(problems, fmt.Sprintf("%s must be %s, got %q", name, want, v))
	}
	return d, problems
}

// shortDuration writes 5m and 720h rather than 5m0s and 720h0m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// backupDuration parses a Go duration that may also be a number of days ("7d").
func backupDuration(getenv func(string) string, name string, def time.Duration, problems []string) (time.Duration, []string) {
	v := getenv(name)
	if v == "" {
		return def, problems
	}
	if n, ok := strings.CutSuffix(v, "d"); ok {
		if d, err := strconv.Atoi(n); err == nil && d >= 0 {
			return time.Duration(d) * 24 * time.Hour, problems
		}
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return def, append(problems, fmt.Sprintf("%s must be a duration such as 24h or 7d (0 off), got %q", name, v))
	}
	return d, problems
}
