package runner

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

// Forwarded are the signals run passes on to the child.
var Forwarded = []os.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT}

// Notify starts catching Forwarded for a run: they no longer end run itself, they go to
// the child. stop undoes it. Call it before the resolution, so that a signal that comes
// while the child starts is not lost.
func Notify() (ch <-chan os.Signal, stop func()) {
	c := make(chan os.Signal, 8)
	signal.Notify(c, Forwarded...)
	return c, func() { signal.Stop(c) }
}

// wait waits for the child, passing each signal from sigs on to it. After a TERM or INT
// the child has grace to exit; then it is killed.
func wait(cmd *exec.Cmd, sigs <-chan os.Signal, grace time.Duration) error {
	if grace <= 0 {
		grace = DefaultGrace
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	var deadline <-chan time.Time
	for {
		select {
		case err := <-exited:
			return err
		case sig := <-sigs:
			_ = cmd.Process.Signal(sig)
			if (sig == syscall.SIGTERM || sig == syscall.SIGINT) && deadline == nil {
				t := time.NewTimer(grace)
				defer t.Stop()
				deadline = t.C
			}
		case <-deadline:
			_ = cmd.Process.Kill()
			deadline = nil
		}
	}
}

// exitStatus is the child's exit code as a shell reports it: its own code, or 128+n when
// signal n ended it.
func exitStatus(cmd *exec.Cmd, waitErr error) (int, error) {
	var ee *exec.ExitError
	if waitErr != nil && !errors.As(waitErr, &ee) {
		return 0, waitErr
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal()), nil
	}
	return cmd.ProcessState.ExitCode(), nil
}

// changeSignals are the signals --on-change signal:NAME may send: those programs reload
// on, and the ones that stop them for a program that wants that.
var changeSignals = map[string]syscall.Signal{
	"HUP": syscall.SIGHUP, "USR1": syscall.SIGUSR1, "USR2": syscall.SIGUSR2, "INT": syscall.SIGINT,
	"TERM": syscall.SIGTERM, "QUIT": syscall.SIGQUIT, "WINCH": syscall.SIGWINCH, "ALRM": syscall.SIGALRM,
}

// ParseOnChange reads --on-change: restart, exit or signal:NAME (NAME as in kill -l,
// HUP or SIGHUP, any case). sig is the signal of signal:NAME.
func ParseOnChange(s string) (action string, sig syscall.Signal, err error) {
	switch s {
	case OnChangeRestart, OnChangeExit:
		return s, 0, nil
	}
	name, ok := strings.CutPrefix(s, OnChangeSignal+":")
	if !ok {
		return "", 0, fmt.Errorf("--on-change is restart, exit or signal:NAME, not %q", s)
	}
	sig, ok = changeSignals[strings.TrimPrefix(strings.ToUpper(name), "SIG")]
	if !ok {
		return "", 0, fmt.Errorf("--on-change %s: unknown signal (HUP, USR1, USR2, INT, TERM, QUIT, WINCH or ALRM)", s)
	}
	return OnChangeSignal, sig, nil
}

// signalName is sig's name as --on-change takes it (HUP).
func signalName(sig syscall.Signal) string {
	for name, s := range changeSignals {
		if s == sig {
			return name
		}
	}
	return sig.String()
}
