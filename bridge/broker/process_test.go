package broker

import (
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
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/internal/testenv"
)

// The cross-process tests re-execute this test binary as producer and
// consumer processes (testenv.StartChild, with TestMain dispatching the
// child's role), so that fds really cross process boundaries and kill -9
// really kills.

// TestMain runs the tests, or, in a child process, the body of its role.
func TestMain(m *testing.M) {
	testenv.Dispatch(map[string]testenv.Body{
		"activated": childActivated,
		"producer":  clientRole(childProducer),
		"consumer":  clientRole(childConsumer),
		"list":      clientRole(childList),
		"pingpong":  clientRole(childPingPong),
		"hold":      clientRole(childHold),
		"acquire":   clientRole(childAcquire),
		"broker":    childBroker,
		"allocator": clientRole(childAllocator),
	})
	os.Exit(m.Run())
}

// clientRole is a child role that talks to the broker at GLB_SOCK.
func clientRole(body func(c *Client, in *bufio.Scanner) error) testenv.Body {
	return func(in *bufio.Scanner) error {
		c, err := Dial(os.Getenv("GLB_SOCK"))
		if err != nil {
			return err
		}
		defer c.Close()
		return body(c, in)
	}
}

// childActivated serves a broker on the socket it was handed as fd 3, the
// way systemd hands it over; it fills in LISTEN_PID, which only the child
// knows (systemd sets it between fork and exec).
func childActivated(*bufio.Scanner) error {
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

// childProducer shares GLB_SIZE bytes of memory filled with the pattern
// of GLB_SEED under GLB_NAME, says READY with the KMT handle and holds
// everything until killed.
func childProducer(c *Client, in *bufio.Scanner) error {
	size, seed := int(envU64("GLB_SIZE")), byte(envU64("GLB_SEED"))
	fd, err := unix.MemfdCreate("producer", unix.MFD_CLOEXEC)
	if err != nil {
		return err
	}
	unix.Ftruncate(fd, int64(size))
	if _, err := unix.Pwrite(fd, pattern(size, seed), 0); err != nil {
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
	for in.Scan() {
	}
	return nil
}

// childConsumer opens the producer's memory by GLB_NAME, or by GLB_KMT
// without a name, checks every byte through a mapping and through pread,
// says OPENED with its handle, and checks again, saying OK, for every line
// it reads.
func childConsumer(c *Client, in *bufio.Scanner) error {
	size, seed := int(envU64("GLB_SIZE")), byte(envU64("GLB_SEED"))
	var r Resource
	var err error
	if name := os.Getenv("GLB_NAME"); name != "" {
		r, err = c.OpenName(name, bridge.AccessRead)
	} else {
		r, err = c.OpenKMT(bridge.Handle(envU64("GLB_KMT")))
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
		want := pattern(size, seed)
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
	for in.Scan() {
		if err := check(); err != nil {
			return err
		}
		fmt.Println("OK")
	}
	return nil
}

// childList lists the broker's resources and says LIST with "ok" or the
// error, which is what a foreign uid's test looks for.
func childList(c *Client, _ *bufio.Scanner) error {
	result := "ok"
	if _, err := c.List(); err != nil {
		result = err.Error()
	}
	fmt.Println("LIST", result)
	return nil
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
			brk := &Broker{}
			path := testBroker(t, brk)
			watcher := dial(t, path)
			const size = 256 * 256 * 4
			name := "Local\\cross-process-" + by
			env := []string{"GLB_SOCK=" + path, fmt.Sprintf("GLB_SIZE=%d", size), "GLB_SEED=77"}

			prod := testenv.StartChild(t, "producer", append(env, "GLB_NAME="+name)...)
			k, _ := strconv.ParseUint(prod.ExpectNext(t, "READY", patience), 10, 32)
			kmt := bridge.Handle(k)
			consEnv := append(env, fmt.Sprintf("GLB_KMT=%d", k))
			if by == "name" {
				consEnv = append(env, "GLB_NAME="+name)
			}
			cons := testenv.StartChild(t, "consumer", consEnv...)
			cons.ExpectNext(t, "OPENED", patience)

			l := mustList(t, watcher)
			if len(l) != 1 || l[0].KMT != kmt || l[0].Refs != 3 {
				t.Fatalf("List with producer and consumer = %+v", l)
			}
			pp, cp := int32(prod.Cmd.Process.Pid), int32(cons.Cmd.Process.Pid)
			if h := holderPIDs(l[0]); h[pp] != 2 || h[cp] != 1 || l[0].CreatorPID != pp {
				t.Fatalf("holders %v (producer %d, consumer %d), creator %d", h, pp, cp, l[0].CreatorPID)
			}
			// What the broker holds for the two processes and for the
			// resource: every one of these fds must go in the end.
			files := append(resourceFiles(t, brk, kmt), brokerEnd(t, brk, connOf(pp)), brokerEnd(t, brk, connOf(cp)))

			prod.Kill()
			waitFor(t, "the producer's references to go", func() bool {
				l := mustList(t, watcher)
				return len(l) == 1 && l[0].Refs == 1 && !l[0].CreatorConnected
			})
			if h := holderPIDs(mustList(t, watcher)[0]); len(h) != 1 || h[cp] != 1 {
				t.Fatalf("holders after the producer died: %v", h)
			}
			// The consumer's fd keeps the memory, and its contents, alive.
			cons.Send(t, "check")
			cons.ExpectNext(t, "OK", patience)

			cons.Kill()
			waitFor(t, "the resource to be freed", func() bool { return len(mustList(t, watcher)) == 0 })
			if _, err := watcher.OpenName(name, bridge.AccessRead); err == nil {
				t.Fatalf("the name outlived its resource")
			}
			waitFor(t, "the broker to close the resource's and both connections' fds", func() bool { return openCount(t, files...) == 0 })
		})
	}
}

// runAs runs the "list" child as uid and reports whether the broker
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
	child := testenv.StartChildCmd(t, "list", func(cmd *exec.Cmd) {
		cmd.Path, cmd.Args[0], cmd.Dir = exe, exe, dir
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: uid}}
	}, "GLB_SOCK="+path)
	result := child.ExpectNext(t, "LIST", patience)
	child.Wait(t, patience)
	if result != "ok" {
		return errors.New(result)
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
	// LISTEN_PID must name the child, which only exists after the fork:
	// the child fills it in.
	h := testenv.StartChildCmd(t, "activated", func(cmd *exec.Cmd) { cmd.ExtraFiles = []*os.File{f} },
		"LISTEN_FDS=1", "LISTEN_PID=self")
	f.Close()
	h.ExpectNext(t, "READY", patience)

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
	h.Kill()
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
