package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/bridge/broker"
	"github.com/glbridge/glbridge/cmd/internal/bench"
	"github.com/glbridge/glbridge/helperdev"
)

var built struct {
	once sync.Once
	dir  string
	bin  string
	err  error
	out  []byte
}

// TestMain runs the first-texture benchmark's child when runBench, in a
// test, re-executes the test binary as glshare would itself; otherwise
// the tests, and then it removes the glshare binary they built, if they
// did.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == bench.FirstChildCommand {
		if err := commands[bench.FirstChildCommand].run(os.Args[2:]); err != nil {
			fmt.Fprintf(os.Stderr, "glshare %s: %v\n", bench.FirstChildCommand, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// glshareBinary builds glshare once for the test binary's tests that run
// it as a program, and returns its path.
func glshareBinary(t *testing.T) string {
	t.Helper()
	built.once.Do(func() {
		if built.dir, built.err = os.MkdirTemp("", "glshare-test-"); built.err != nil {
			return
		}
		built.bin = filepath.Join(built.dir, "glshare")
		built.out, built.err = exec.Command("go", "build", "-o", built.bin, ".").CombinedOutput()
	})
	if built.err != nil {
		t.Fatalf("go build: %v\n%s", built.err, built.out)
	}
	return built.bin
}

// startServe runs `glshare serve` with args on a fresh socket until the
// test ends, and returns the socket once the broker answers on it. At the
// end it stops the broker with SIGTERM and fails the test unless serve
// shut down cleanly (exit status 0).
func startServe(t *testing.T, args ...string) (sock string, log *syncBuffer) {
	t.Helper()
	sock = filepath.Join(t.TempDir(), "broker.sock")
	p := startServeAt(t, sock, args...)
	return sock, p.log
}

// serveProcess is a `glshare serve` the test runs.
type serveProcess struct {
	cmd    *exec.Cmd
	log    *syncBuffer
	exited chan error
	killed bool
}

// startServeAt runs `glshare serve --socket sock` with args until the
// test ends (then with SIGTERM, expecting a clean stop, unless the test
// killed it) and returns once the broker answers.
func startServeAt(t *testing.T, sock string, args ...string) *serveProcess {
	t.Helper()
	bin := glshareBinary(t)
	p := &serveProcess{log: &syncBuffer{}, exited: make(chan error, 1)}
	p.cmd = exec.Command(bin, append([]string{"serve", "--socket", sock}, args...)...)
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.exited <- p.cmd.Wait() }()
	t.Cleanup(func() {
		if p.killed {
			return
		}
		p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-p.exited:
			if err != nil {
				t.Errorf("glshare serve after SIGTERM: %v\n%s", err, p.log.String())
			}
		case <-time.After(30 * time.Second):
			p.cmd.Process.Kill()
			t.Errorf("glshare serve did not stop within 30 s of SIGTERM\n%s", p.log.String())
		}
	})
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		select {
		case err := <-p.exited:
			t.Fatalf("glshare serve %q exited: %v\n%s", args, err, p.log.String())
		default:
		}
		if c, err := broker.Dial(sock); err == nil {
			c.Close()
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("glshare serve did not answer on %s within 60 s\n%s", sock, p.log.String())
		}
	}
}

// kill9 kills the broker with SIGKILL, as a crash would, and waits for it
// to be gone.
func (p *serveProcess) kill9(t *testing.T) {
	t.Helper()
	p.killed = true
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
}

// syncBuffer is a bytes.Buffer a child process and the test share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func dial(t *testing.T, sock string) *broker.Client {
	t.Helper()
	c, err := broker.Dial(sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// allocate has c's broker allocate req, closes the fds it got, and
// returns the resource's handle, or the broker's refusal.
func allocate(c *broker.Client, req broker.AllocateRequest) (bridge.Handle, error) {
	r, err := c.Allocate(req)
	if err != nil {
		return 0, err
	}
	unix.Close(r.FD)
	for _, s := range r.Syncs {
		unix.Close(s.FD)
	}
	return r.Handle, nil
}

// lavapipe is the Vulkan device the tests have the broker allocate on:
// Mesa's lavapipe where it is there (the CPU machine), else the first
// device (the GPU machine).
func lavapipe(t *testing.T) helperdev.PhysicalDeviceInfo {
	t.Helper()
	devs, err := helperdev.ListPhysicalDevices()
	if err != nil {
		t.Fatal(err)
	}
	if len(devs) == 0 {
		t.Fatal("no Vulkan devices")
	}
	for _, d := range devs {
		if strings.Contains(d.Name, "llvmpipe") {
			return d
		}
	}
	return devs[0]
}

// createOwn registers memory of the client's own (a 4 KiB memfd
// described as a 16x16 RGBA texture) through c: a CREATE.
func createOwn(t *testing.T, c *broker.Client) (bridge.Handle, error) {
	t.Helper()
	fd, err := unix.MemfdCreate("glshare-test", unix.MFD_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if err := unix.Ftruncate(fd, 4096); err != nil {
		t.Fatal(err)
	}
	alloc := bridge.Allocation{Desc: bridge.Texture2D(16, 16, bridge.FormatR8G8B8A8Unorm), VkFormat: 37, Size: 4096}
	return c.Create(alloc, fd, nil)
}

// wantQuota fails unless err is a quota refusal of who ("connection" or
// "uid").
func wantQuota(t *testing.T, what string, err error, who string) {
	t.Helper()
	if !errors.Is(err, bridge.ErrQuota) || !strings.Contains(err.Error(), who) {
		t.Fatalf("%s: %v, want a refusal matching bridge.ErrQuota that names the %s", what, err, who)
	}
}

// TestServeQuotaResources runs glshare serve with a quota of one resource
// per connection and three per uid, and has it allocate: a connection's
// first allocation (Vulkan memory on lavapipe) succeeds and its next (host
// memory) is refused with bridge.ErrQuota, naming the connection; once the
// first is freed, the connection may allocate again; the uid's fourth
// live resource, on a fourth connection, is refused naming the uid. A
// CREATE counts too.
func TestServeQuotaResources(t *testing.T) {
	sock, log := startServe(t, "--quota-resources-per-conn", "1", "--quota-resources-per-uid", "3")
	dev := lavapipe(t)
	small := bridge.Texture2D(16, 16, bridge.FormatR8G8B8A8Unorm)
	host := broker.AllocateRequest{Desc: small, HostMemory: true}

	c1 := dial(t, sock)
	first, err := allocate(c1, broker.AllocateRequest{Desc: small, Device: dev.Device})
	if err != nil {
		t.Fatalf("first allocation on %s: %v\n%s", dev.Name, err, log.String())
	}
	_, err = allocate(c1, host)
	wantQuota(t, "second allocation on a connection with a quota of 1", err, "connection")
	if err := c1.CloseHandle(first); err != nil {
		t.Fatal(err)
	}
	if _, err := allocate(c1, host); err != nil {
		t.Fatalf("allocation after the first was freed: %v", err)
	}

	if _, err := allocate(dial(t, sock), host); err != nil {
		t.Fatalf("the uid's second resource: %v", err)
	}
	// The third, a CREATE of the client's own memory.
	if _, err := createOwn(t, dial(t, sock)); err != nil {
		t.Fatalf("the uid's third resource, a CREATE: %v", err)
	}
	_, err = allocate(dial(t, sock), host)
	wantQuota(t, "the uid's fourth live resource", err, "uid")
	if !strings.Contains(log.String(), "resources_per_conn=1 resources_per_uid=3") {
		t.Errorf("serve's log does not say the quotas:\n%s", log.String())
	}
}

// TestServeQuotaBytes runs glshare serve with byte quotas given with
// suffixes (300K per connection, 600K per uid) and allocates 256x256 RGBA
// textures (256 KiB each) in host memory: a connection's second is
// refused naming the connection, the uid's third (on a second connection
// that holds one) naming the uid.
func TestServeQuotaBytes(t *testing.T) {
	sock, log := startServe(t, "--quota-bytes-per-conn", "300K", "--quota-bytes-per-uid", "600KiB")
	req := broker.AllocateRequest{Desc: bridge.Texture2D(256, 256, bridge.FormatR8G8B8A8Unorm), HostMemory: true}
	c1, c2 := dial(t, sock), dial(t, sock)
	if _, err := allocate(c1, req); err != nil {
		t.Fatalf("first 256 KiB: %v\n%s", err, log.String())
	}
	_, err := allocate(c1, req)
	wantQuota(t, "a connection's second 256 KiB under a 300K quota", err, "connection")
	if _, err := allocate(c2, req); err != nil {
		t.Fatalf("the uid's second 256 KiB: %v", err)
	}
	_, err = allocate(dial(t, sock), req)
	wantQuota(t, "the uid's third 256 KiB under a 600KiB quota", err, "uid")
	if !strings.Contains(log.String(), "bytes_per_conn=300K bytes_per_uid=600K") {
		t.Errorf("serve's log does not say the quotas:\n%s", log.String())
	}
}

// TestServeQuotaFlags: quota flags that are not sizes or counts make serve
// fail before it listens, saying why.
func TestServeQuotaFlags(t *testing.T) {
	bin := glshareBinary(t)
	for _, args := range [][]string{
		{"--quota-bytes-per-conn", "12Q"}, {"--quota-bytes-per-uid", "-1G"}, {"--quota-bytes-per-uid", "20000000T"},
		{"--quota-resources-per-conn", "-1"}, {"--quota-resources-per-uid", "lots"},
	} {
		sock := filepath.Join(t.TempDir(), "broker.sock")
		out, err := exec.Command(bin, append([]string{"serve", "--socket", sock}, args...)...).CombinedOutput()
		if err == nil || !strings.Contains(string(out), args[0][2:]) {
			t.Errorf("serve %q: %v\n%s", args, err, out)
		}
		if _, err := os.Stat(sock); err == nil {
			t.Errorf("serve %q listened", args)
		}
	}
}

func TestParseByteSize(t *testing.T) {
	for in, want := range map[string]uint64{
		"0": 0, "4096": 4096, "512M": 512 << 20, "8G": 8 << 30, "8g": 8 << 30, "300K": 300 << 10,
		"600KiB": 600 << 10, "1T": 1 << 40, "2MB": 2 << 20, " 7 ": 7, "16384T": 16384 << 40,
	} {
		if got, err := parseByteSize(in); err != nil || got != want {
			t.Errorf("parseByteSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "G", "1.5G", "-1", "12Q", "16777216T", "1 G"} {
		if got, err := parseByteSize(bad); err == nil {
			t.Errorf("parseByteSize(%q) = %d, want an error", bad, got)
		}
	}
	for v, want := range map[uint64]string{8 << 30: "8G", 300 << 10: "300K", 4097: "4097", 0: "0", 3 << 40: "3T"} {
		b := byteSize(v)
		if got := b.String(); got != want {
			t.Errorf("byteSize(%d).String() = %q, want %q", v, got, want)
		}
	}
}
