// Package testenv is glbridge's test harness: child processes for the
// cross-process tests (real processes, so that fds really cross process
// boundaries and kill -9 really kills) and fd counts for the leak tests.
// testbroker serves a broker inside a test; gpuenv opens GL and the helper
// device.
//
// The parent talks to a child in lines: it sends commands on the child's
// standard input and waits for lines the child prints. A child reports a
// failure as a line starting with "ERROR ".
package testenv

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// RoleEnv is the environment variable naming the child's role.
const RoleEnv = "GLBRIDGE_CHILD_ROLE"

// Role returns the role this process runs as, or "" in the parent.
func Role() string { return os.Getenv(RoleEnv) }

// Child is a running child process.
type Child struct {
	Cmd   *exec.Cmd
	role  string
	stdin io.WriteCloser
	// more is signalled when a line or the end of the output arrives.
	more chan struct{}
	done chan struct{}
	mu   sync.Mutex
	log  []string // every line the child printed
	read int      // how many of them Expect has looked at
	eof  bool     // the child's output has ended
}

// StartChild runs the current test binary as role, with env added to the
// environment. The test binary's TestMain must call Dispatch first. The
// child is killed when the test ends.
func StartChild(t testing.TB, role string, env ...string) *Child {
	t.Helper()
	return StartChildCmd(t, role, nil, env...)
}

// StartChildCmd is StartChild for a child that needs more than its
// environment: setup, unless nil, adjusts the command before it starts
// (ExtraFiles for fds 3 on, SysProcAttr for credentials, Path and Dir to
// run a copy of the test binary elsewhere).
func StartChildCmd(t testing.TB, role string, setup func(*exec.Cmd), env ...string) *Child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), RoleEnv+"="+role), env...)
	cmd.Stderr = os.Stderr
	if setup != nil {
		setup(cmd)
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	// The pipe is the reader's, not exec's: Wait closes a StdoutPipe as
	// soon as the child exits, losing whatever the child printed just
	// before exiting that had not been read yet.
	stdout, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = w
	err = cmd.Start()
	w.Close()
	if err != nil {
		stdout.Close()
		t.Fatal(err)
	}
	c := &Child{Cmd: cmd, role: role, stdin: stdin, more: make(chan struct{}, 1), done: make(chan struct{})}
	// The reader keeps every line, however many nobody expects, so that it
	// never stops reading and the child never blocks printing.
	go func() {
		defer stdout.Close()
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			c.mu.Lock()
			c.log = append(c.log, sc.Text())
			c.mu.Unlock()
			c.signal()
		}
		c.mu.Lock()
		c.eof = true
		c.mu.Unlock()
		c.signal()
	}()
	go func() { cmd.Wait(); close(c.done) }()
	t.Cleanup(c.Kill)
	return c
}

// signal tells expect that a line or the end of the output arrived.
func (c *Child) signal() {
	select {
	case c.more <- struct{}{}:
	default:
	}
}

// nextLine returns the first line expect has not looked at; ok is false
// when there is none yet, and eof says there will be none.
func (c *Child) nextLine() (l string, ok, eof bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.read < len(c.log) {
		c.read++
		return c.log[c.read-1], true, false
	}
	return "", false, c.eof
}

// Send writes one line to the child's standard input.
func (c *Child) Send(t testing.TB, line string) {
	t.Helper()
	if _, err := fmt.Fprintln(c.stdin, line); err != nil {
		t.Fatalf("%s: send %q: %v", c.role, line, err)
	}
}

// Expect waits up to timeout for a line starting with prefix and returns
// the rest of it. An "ERROR" line, the child's exit or the timeout fails
// the test.
func (c *Child) Expect(t testing.TB, prefix string, timeout time.Duration) string {
	t.Helper()
	return c.expect(t, prefix, timeout, false)
}

// ExpectNext is Expect for a child whose very next line must start with
// prefix: any other line fails the test too, for a conversation whose
// order is part of what the test checks.
func (c *Child) ExpectNext(t testing.TB, prefix string, timeout time.Duration) string {
	t.Helper()
	return c.expect(t, prefix, timeout, true)
}

// expect is Expect, and with next, ExpectNext.
func (c *Child) expect(t testing.TB, prefix string, timeout time.Duration, next bool) string {
	t.Helper()
	deadline := time.After(timeout)
	for {
		l, ok, eof := c.nextLine()
		switch {
		case ok && strings.HasPrefix(l, "ERROR"):
			t.Fatalf("%s: %s", c.role, l)
		case ok && strings.HasPrefix(l, prefix):
			return strings.TrimSpace(strings.TrimPrefix(l, prefix))
		case ok && next:
			t.Fatalf("%s printed %q, want a line starting with %q", c.role, l, prefix)
		case ok:
		case eof:
			select {
			case <-c.done:
			case <-deadline:
			}
			t.Fatalf("%s ended its output (%s) before printing %q; it printed %q", c.role, c.status(), prefix, c.output())
		default:
			select {
			case <-c.more:
			case <-deadline:
				t.Fatalf("%s printed no %q within %v; it printed %q", c.role, prefix, timeout, c.output())
			}
		}
	}
}

// status says how the child exited, or that it has not yet.
func (c *Child) status() string {
	select {
	case <-c.done:
		return c.Cmd.ProcessState.String()
	default:
		return "still running"
	}
}

func (c *Child) output() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.log...)
}

// Kill sends SIGKILL (kill -9) and waits for the child to be gone.
func (c *Child) Kill() {
	c.Cmd.Process.Signal(syscall.SIGKILL)
	<-c.done
}

// Wait waits up to timeout for the child to exit by itself and reports
// whether it exited with status 0.
func (c *Child) Wait(t testing.TB, timeout time.Duration) {
	t.Helper()
	select {
	case <-c.done:
		if !c.Cmd.ProcessState.Success() {
			t.Fatalf("%s exited with %v; it printed %q", c.role, c.Cmd.ProcessState, c.output())
		}
	case <-time.After(timeout):
		t.Fatalf("%s did not exit within %v", c.role, timeout)
	}
}

// Body is a child role: it reads commands from in and prints its results.
type Body func(in *bufio.Scanner) error

// Dispatch is called first thing by the TestMain of a test binary that
// starts children: in a child it runs the body of its role and exits the
// process, 0 on success, 1 after printing "ERROR <err>"; in the parent it
// returns at once.
func Dispatch(roles map[string]Body) {
	role := Role()
	if role == "" {
		return
	}
	body, ok := roles[role]
	if !ok {
		fmt.Printf("ERROR unknown child role %q\n", role)
		os.Exit(2)
	}
	if err := body(bufio.NewScanner(os.Stdin)); err != nil {
		fmt.Printf("ERROR %v\n", err)
		os.Exit(1)
	}
	os.Exit(0)
}
