package broker

import (
	"github.com/glbridge/glbridge/bridge"

	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// The cross-process tests re-execute this test binary as producer and
// consumer processes (TestMain with GLBRIDGE_HELPER_ROLE set), so
// that fds really cross process boundaries and kill -9 really kills.

const helperRoleEnv = "GLBRIDGE_HELPER_ROLE"

// TestMain runs the tests, or, with GLBRIDGE_HELPER_ROLE set, the body of a
// child process.
func TestMain(m *testing.M) {
	role := os.Getenv(helperRoleEnv)
	if role == "" {
		os.Exit(m.Run())
	}
	if err := runHelper(role); err != nil {
		fmt.Fprintf(os.Stdout, "ERROR %v\n", err)
		os.Exit(1)
	}
	os.Exit(0)
}

func runHelper(role string) error {
	if role == "activated" {
		os.Setenv("LISTEN_PID", strconv.Itoa(os.Getpid()))
		l, err := ActivationListener()
		if err != nil || l == nil {
			return fmt.Errorf("ActivationListener = %v, %v", l, err)
		}
		if os.Getenv("LISTEN_FDS") != "" {
			return fmt.Errorf("LISTEN_FDS still set for children")
		}
		b := &Broker{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
		fmt.Println("READY")
		return b.Serve(context.Background(), l)
	}
	sock := os.Getenv("GLB_SOCK")
	size, _ := strconv.Atoi(os.Getenv("GLB_SIZE"))
	seed, _ := strconv.Atoi(os.Getenv("GLB_SEED"))
	c, err := Dial(sock)
	if err != nil {
		return err
	}
	defer c.Close()
	stdin := bufio.NewScanner(os.Stdin)
	switch role {
	case "producer":
		fd, err := unix.MemfdCreate("producer", unix.MFD_CLOEXEC)
		if err != nil {
			return err
		}
		unix.Ftruncate(fd, int64(size))
		if _, err := unix.Pwrite(fd, pattern(size, byte(seed)), 0); err != nil {
			return err
		}
		kmt, err := c.Create(testAllocation(uint64(size)), fd, []byte("producer"))
		if err != nil {
			return err
		}
		if _, err := c.Share(kmt, bridge.AccessRead, os.Getenv("GLB_NAME")); err != nil {
			return err
		}
		fmt.Printf("READY %d\n", uint32(kmt))
		for stdin.Scan() { // hold everything until killed
		}
		return nil
	case "consumer":
		var r Resource
		if name := os.Getenv("GLB_NAME"); name != "" {
			r, err = c.OpenName(name, bridge.AccessRead)
		} else {
			k, _ := strconv.ParseUint(os.Getenv("GLB_KMT"), 10, 32)
			r, err = c.OpenKMT(bridge.Handle(k))
		}
		if err != nil {
			return err
		}
		if r.Allocation != testAllocation(uint64(size)) || string(r.Data) != "producer" {
			return fmt.Errorf("opened %+v", r)
		}
		m, err := unix.Mmap(r.FD, 0, size, unix.PROT_READ, unix.MAP_SHARED)
		if err != nil {
			return err
		}
		check := func() error {
			want := pattern(size, byte(seed))
			if !bytes.Equal(m, want) {
				return fmt.Errorf("mapped bytes differ from the producer's pattern")
			}
			got := make([]byte, size)
			if n, err := unix.Pread(r.FD, got, 0); err != nil || n != size || !bytes.Equal(got, want) {
				return fmt.Errorf("pread %d, %v: bytes differ", n, err)
			}
			return nil
		}
		if err := check(); err != nil {
			return err
		}
		fmt.Printf("OPENED %d\n", uint32(r.Handle))
		for stdin.Scan() {
			if err := check(); err != nil {
				return err
			}
			fmt.Println("OK")
		}
		return nil
	case "list":
		_, err := c.List()
		return err
	}
	if f, ok := syncHelperRoles[role]; ok {
		return f(c, stdin)
	}
	return fmt.Errorf("unknown helper role %q", role)
}

type helper struct {
	role   string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout *bufio.Reader
}

func startHelper(t *testing.T, role string, env ...string) *helper {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), append([]string{helperRoleEnv + "=" + role}, env...)...)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	h := &helper{role: role, cmd: cmd, stdin: stdin, stdout: bufio.NewReader(out)}
	t.Cleanup(func() { h.kill() })
	return h
}

// line reads the helper's next status line and checks its first word.
func (h *helper) line(t *testing.T, want string) string {
	t.Helper()
	l, err := h.stdout.ReadString('\n')
	if err != nil {
		t.Fatalf("%s: reading its output: %v", h.role, err)
	}
	f := strings.Fields(l)
	if len(f) == 0 || f[0] != want {
		t.Fatalf("%s said %q, want %s", h.role, l, want)
	}
	if len(f) > 1 {
		return f[1]
	}
	return ""
}

// kill sends SIGKILL: no deferred Close, no goodbye to the broker.
func (h *helper) kill() {
	if h.cmd.ProcessState == nil {
		h.cmd.Process.Signal(syscall.SIGKILL)
		h.cmd.Wait()
	}
}

func holderPIDs(e ResourceInfo) map[int32]int {
	m := map[int32]int{}
	for _, h := range e.Holders {
		m[h.PID] += h.Refs
	}
	return m
}

// TestCrossProcess: a producer process shares memory it filled; a consumer
// process opens it by KMT handle or by name and reads every byte; the
// producer is killed and the consumer still reads; the consumer is killed
// and the broker frees the resource and every fd.
func TestCrossProcess(t *testing.T) {
	for _, by := range []string{"kmt", "name"} {
		t.Run(by, func(t *testing.T) {
			path := testBroker(t, &Broker{})
			watcher := dial(t, path)
			baseline := openFDs(t)
			const size = 256 * 256 * 4
			name := "Local\\cross-process-" + by
			env := []string{"GLB_SOCK=" + path, fmt.Sprintf("GLB_SIZE=%d", size), "GLB_SEED=77"}

			prod := startHelper(t, "producer", append(env, "GLB_NAME="+name)...)
			k, _ := strconv.ParseUint(prod.line(t, "READY"), 10, 32)
			kmt := bridge.Handle(k)
			consEnv := append(env, fmt.Sprintf("GLB_KMT=%d", k))
			if by == "name" {
				consEnv = append(env, "GLB_NAME="+name)
			}
			cons := startHelper(t, "consumer", consEnv...)
			cons.line(t, "OPENED")

			l := mustList(t, watcher)
			if len(l) != 1 || l[0].KMT != kmt || l[0].Refs != 3 {
				t.Fatalf("List with producer and consumer = %+v", l)
			}
			pp, cp := int32(prod.cmd.Process.Pid), int32(cons.cmd.Process.Pid)
			if h := holderPIDs(l[0]); h[pp] != 2 || h[cp] != 1 || l[0].CreatorPID != pp {
				t.Fatalf("holders %v (producer %d, consumer %d), creator %d", h, pp, cp, l[0].CreatorPID)
			}

			prod.kill()
			waitFor(t, "the producer's references to go", func() bool {
				l := mustList(t, watcher)
				return len(l) == 1 && l[0].Refs == 1 && !l[0].CreatorConnected
			})
			if h := holderPIDs(mustList(t, watcher)[0]); len(h) != 1 || h[cp] != 1 {
				t.Fatalf("holders after the producer died: %v", h)
			}
			// The consumer's fd keeps the memory, and its contents, alive.
			fmt.Fprintln(cons.stdin, "check")
			cons.line(t, "OK")

			cons.kill()
			waitFor(t, "the resource to be freed", func() bool { return len(mustList(t, watcher)) == 0 })
			if _, err := watcher.OpenName(name, bridge.AccessRead); err == nil {
				t.Fatalf("the name outlived its resource")
			}
			waitFor(t, "the broker's fds to return to baseline", func() bool { return openFDs(t) == baseline })
		})
	}
}

// runAs runs the "list" helper as uid and reports whether the broker
// served it. The test binary is copied where that uid can execute it.
func runAs(t *testing.T, uid uint32, path string) error {
	t.Helper()
	dir, err := os.MkdirTemp("", "glb-exe")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	os.Chmod(dir, 0o755)
	exe := filepath.Join(dir, "bridge.test")
	src, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(exe, src, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), helperRoleEnv+"=list", "GLB_SOCK="+path)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: uid}}
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%v: %s", err, out)
	}
	return nil
}

// TestBrokerSocketActivation hands a child broker its listening socket as
// fd 3, the way systemd does, and talks to it.
func TestBrokerSocketActivation(t *testing.T) {
	dir, err := os.MkdirTemp("", "glb")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "activated.sock")
	l, err := net.ListenUnix("unixpacket", &net.UnixAddr{Name: path, Net: "unixpacket"})
	if err != nil {
		t.Fatal(err)
	}
	f, err := l.File()
	l.SetUnlinkOnClose(false)
	l.Close()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	// LISTEN_PID must name the child, which only exists after the fork:
	// the child fills it in (systemd does it between fork and exec).
	cmd.Env = append(os.Environ(), helperRoleEnv+"=activated", "LISTEN_FDS=1", "LISTEN_PID=self")
	cmd.ExtraFiles = []*os.File{f}
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	h := &helper{role: "activated", cmd: cmd, stdout: bufio.NewReader(out)}
	defer h.kill()
	h.line(t, "READY")

	c := dial(t, path)
	fd := memfd(t, 4096, 5)
	defer unix.Close(fd)
	kmt, err := c.Create(testAllocation(4096), fd, nil)
	if err != nil {
		t.Fatalf("Create on the activated broker: %v", err)
	}
	if l := mustList(t, c); len(l) != 1 || l[0].KMT != kmt {
		t.Fatalf("List = %+v", l)
	}
	// SIGTERM-free shutdown of the child: its broker must drop us.
	h.kill()
	if _, err := c.List(); !errors.Is(err, bridge.ErrClosed) {
		t.Fatalf("List after the broker died: %v, want ErrClosed", err)
	}
}

func TestActivationListenerIgnoresOtherPID(t *testing.T) {
	t.Setenv("LISTEN_FDS", "1")
	t.Setenv("LISTEN_PID", strconv.Itoa(os.Getpid()+1))
	l, err := ActivationListener()
	if l != nil || err != nil {
		t.Fatalf("ActivationListener for another pid = %v, %v; want nil, nil", l, err)
	}
	if os.Getenv("LISTEN_FDS") != "1" {
		t.Errorf("LISTEN_FDS was unset although the sockets were not for this process")
	}
}
