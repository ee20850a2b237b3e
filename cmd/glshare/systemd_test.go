package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/bridge/broker"
)

// unitDir is where the systemd user units are kept, from this package.
const unitDir = "../../dist/systemd"

// unitFile is a systemd unit file as systemd reads it: each section's
// keys, each with its values in order (a key may repeat), continuation
// lines joined and comments dropped.
type unitFile map[string]map[string][]string

// one returns the only value of key in section, failing the test unless
// there is exactly one.
func (u unitFile) one(t *testing.T, section, key string) string {
	t.Helper()
	v := u[section][key]
	if len(v) != 1 {
		t.Fatalf("[%s] %s: %q, want exactly one value", section, key, v)
	}
	return v[0]
}

func parseUnit(t *testing.T, path string) unitFile {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	u := unitFile{}
	section := ""
	sc := bufio.NewScanner(bytes.NewReader(b))
	var pending string
	for n := 1; sc.Scan(); n++ {
		line := pending + sc.Text()
		pending = ""
		if s, ok := strings.CutSuffix(line, "\\"); ok {
			pending = s + " "
			continue
		}
		line = strings.TrimSpace(line)
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
		case line[0] == '[' && line[len(line)-1] == ']':
			section = line[1 : len(line)-1]
			if u[section] == nil {
				u[section] = map[string][]string{}
			}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				t.Fatalf("%s:%d: %q is neither a section, a comment nor key=value in a section", path, n, line)
			}
			k, v = strings.TrimSpace(k), strings.TrimSpace(v)
			u[section][k] = append(u[section][k], v)
		}
	}
	if pending != "" {
		t.Fatalf("%s ends in a continuation line", path)
	}
	return u
}

// socketUnit is what glshare.socket says, as the tests use it.
type socketUnit struct {
	listen             string // ListenSequentialPacket=, with %t unexpanded
	socketMode, dirMod fs.FileMode
	fdName             string // LISTEN_FDNAMES for the service
}

func readSocketUnit(t *testing.T, path string) socketUnit {
	t.Helper()
	u := parseUnit(t, path)
	mode := func(key string) fs.FileMode {
		v := u.one(t, "Socket", key)
		m, err := strconv.ParseUint(v, 8, 32)
		if err != nil {
			t.Fatalf("%s: %s=%q is not an octal mode", path, key, v)
		}
		return fs.FileMode(m)
	}
	s := socketUnit{
		listen:     u.one(t, "Socket", "ListenSequentialPacket"),
		socketMode: mode("SocketMode"),
		dirMod:     mode("DirectoryMode"),
		fdName:     strings.TrimSuffix(filepath.Base(path), ".socket") + ".socket", // systemd's default: the unit's name
	}
	if v := u["Socket"]["FileDescriptorName"]; len(v) > 0 {
		s.fdName = v[len(v)-1]
	}
	for k, v := range u["Socket"] {
		if strings.HasPrefix(k, "Listen") && k != "ListenSequentialPacket" || k == "Accept" && v[len(v)-1] != "no" && v[len(v)-1] != "false" {
			t.Errorf("%s: %s=%q: the broker takes exactly one listening SOCK_SEQPACKET socket", path, k, v)
		}
	}
	return s
}

// TestSystemdUnitFiles reads dist/systemd as systemd would and checks what
// the broker depends on: the socket is a SOCK_SEQPACKET one at the path
// clients look at by default (%t/glbridge/broker.sock, %t being
// XDG_RUNTIME_DIR in a user manager), only the user may reach it (socket
// 0600, directory 0700), and it is the service's only socket; the service
// runs `@BINDIR@/glshare serve` (a type serve honours: it does not speak
// sd_notify), restarts on failure, belongs to the socket, and has none of
// the options that would take the GPU or the drivers' JIT away.
func TestSystemdUnitFiles(t *testing.T) {
	s := readSocketUnit(t, filepath.Join(unitDir, "glshare.socket"))
	if s.listen != "%t/glbridge/broker.sock" {
		t.Errorf("ListenSequentialPacket=%s, want %%t/glbridge/broker.sock (broker.DefaultSocketPath under a user manager)", s.listen)
	}
	t.Setenv("XDG_RUNTIME_DIR", "/run/user/1000")
	if got := strings.Replace(s.listen, "%t", "/run/user/1000", 1); got != broker.DefaultSocketPath() {
		t.Errorf("the socket unit listens on %s where clients look at %s", got, broker.DefaultSocketPath())
	}
	if s.socketMode != 0o600 || s.dirMod != 0o700 {
		t.Errorf("SocketMode=%#o DirectoryMode=%#o, want 0600 and 0700", s.socketMode, s.dirMod)
	}
	sock := parseUnit(t, filepath.Join(unitDir, "glshare.socket"))
	if v := sock["Install"]["WantedBy"]; len(v) != 1 || v[0] != "sockets.target" {
		t.Errorf("glshare.socket [Install] WantedBy=%q, want sockets.target", v)
	}

	u := parseUnit(t, filepath.Join(unitDir, "glshare.service"))
	if got := u.one(t, "Service", "ExecStart"); got != "@BINDIR@/glshare serve" {
		t.Errorf("ExecStart=%s, want @BINDIR@/glshare serve", got)
	}
	if got := u.one(t, "Service", "Type"); got != "simple" && got != "exec" {
		t.Errorf("Type=%s: glshare serve does not speak sd_notify; want simple or exec", got)
	}
	if got := u.one(t, "Service", "Restart"); got != "on-failure" {
		t.Errorf("Restart=%s, want on-failure", got)
	}
	for _, k := range []string{"Requires", "After"} {
		if v := u["Unit"][k]; len(v) != 1 || v[0] != "glshare.socket" {
			t.Errorf("[Unit] %s=%q, want glshare.socket", k, v)
		}
	}
	// Each of these breaks the helper device: PrivateDevices hides
	// /dev/dri and /dev/nvidia*, MemoryDenyWriteExecute stops llvmpipe's
	// and NVIDIA's JIT, DevicePolicy/DeviceAllow limit device nodes,
	// ProtectHome hides user Vulkan ICDs, layers and shader caches, and
	// the namespace options fail the unit where unprivileged user
	// namespaces are refused (a user manager implies PrivateUsers=).
	for _, k := range []string{"PrivateDevices", "MemoryDenyWriteExecute", "DevicePolicy", "DeviceAllow", "ProtectHome",
		"PrivateUsers", "ProtectSystem", "PrivateTmp", "ProtectKernelTunables", "ProtectControlGroups", "SystemCallFilter"} {
		if v, ok := u["Service"][k]; ok {
			t.Errorf("glshare.service sets %s=%q", k, v)
		}
	}
	if v := u["Service"]["RestrictAddressFamilies"]; len(v) != 1 || !strings.Contains(" "+v[0]+" ", " AF_UNIX ") || strings.HasPrefix(v[0], "~") {
		t.Errorf("RestrictAddressFamilies=%q must allow AF_UNIX", v)
	}
}

// runMake runs make in the repository root with args, without the
// outer make's jobserver if the tests run under `make test`.
func runMake(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "make", append([]string{"-C", "../.."}, args...)...)
	for _, e := range os.Environ() {
		if k, _, _ := strings.Cut(e, "="); k != "MAKEFLAGS" && k != "MFLAGS" && k != "MAKELEVEL" {
			cmd.Env = append(cmd.Env, e)
		}
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("make %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestMakeInstall runs `make install DESTDIR=<tmp> PREFIX=/usr` and checks
// that glshare and glshare-window land in usr/bin (mode 0755), libglbridge
// in usr/include and usr/lib (with glbridge.pc, through which a C program
// then builds and runs against it), and the two
// units in usr/lib/systemd/user (0644), the service's ExecStart naming
// /usr/bin/glshare and no @BINDIR@ left anywhere, the socket unit as it
// is in dist/systemd; that BINDIR= overrides the binaries' directory and
// the ExecStart with it; that `make uninstall` with the same variables
// removes every file. Then, where systemd-analyze is installed, it
// installs under a temporary PREFIX (so that ExecStart names a binary
// that exists) and has `systemd-analyze verify --user` check the
// installed units: it must exit 0 and print nothing (unknown keys and bad
// values are warnings only).
func TestMakeInstall(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Fatalf("make: %v", err)
	}
	tmp := t.TempDir()
	dest := filepath.Join(tmp, "dest")
	build := "BIN=" + filepath.Join(tmp, "build") // leave the tree's bin/ alone
	runMake(t, "install", "DESTDIR="+dest, "PREFIX=/usr", build)
	want := map[string]fs.FileMode{
		"usr/bin/glshare":                      0o755,
		"usr/bin/glshare-window":               0o755,
		"usr/lib/systemd/user/glshare.socket":  0o644,
		"usr/lib/systemd/user/glshare.service": 0o644,
		// libglbridge: the header, the libraries (the soname and the
		// development link are links to the file), glbridge.pc.
		"usr/include/glbridge.h":        0o644,
		"usr/lib/libglbridge.so.0.1.0":  0o755,
		"usr/lib/libglbridge.so.0":      0o755,
		"usr/lib/libglbridge.so":        0o755,
		"usr/lib/libglbridge.a":         0o644,
		"usr/lib/pkgconfig/glbridge.pc": 0o644,
	}
	var found []string
	filepath.WalkDir(dest, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dest, p)
			found = append(found, rel)
		}
		return err
	})
	if len(found) != len(want) {
		t.Errorf("make install put %q under DESTDIR, want %d files", found, len(want))
	}
	for rel, mode := range want {
		st, err := os.Stat(filepath.Join(dest, rel))
		if err != nil {
			t.Errorf("make install: %v", err)
			continue
		}
		if st.Mode().Perm() != mode {
			t.Errorf("%s: mode %#o, want %#o", rel, st.Mode().Perm(), mode)
		}
	}
	for _, u := range []string{"glshare.socket", "glshare.service"} {
		b, err := os.ReadFile(filepath.Join(dest, "usr/lib/systemd/user", u))
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte("@BINDIR@")) || bytes.Contains(b, []byte(dest)) {
			t.Errorf("installed %s still names @BINDIR@ or DESTDIR:\n%s", u, b)
		}
	}
	svc := parseUnit(t, filepath.Join(dest, "usr/lib/systemd/user/glshare.service"))
	if got := svc.one(t, "Service", "ExecStart"); got != "/usr/bin/glshare serve" {
		t.Errorf("installed ExecStart=%s, want /usr/bin/glshare serve", got)
	}
	src, _ := os.ReadFile(filepath.Join(unitDir, "glshare.socket"))
	if got, _ := os.ReadFile(filepath.Join(dest, "usr/lib/systemd/user/glshare.socket")); !bytes.Equal(got, src) {
		t.Errorf("installed glshare.socket differs from dist/systemd's:\n%s", got)
	}
	out, err := exec.Command(filepath.Join(dest, "usr/bin/glshare"), "serve", "-h").CombinedOutput()
	if !strings.Contains(string(out), "-socket") {
		t.Errorf("installed glshare serve -h: %v\n%s", err, out)
	}
	checkInstalledLibrary(t, dest, tmp)

	// And as a user installs it: PREFIX a directory of theirs, no DESTDIR.
	prefix := filepath.Join(tmp, "user-prefix")
	runMake(t, "install", "PREFIX="+prefix, build)
	checkInstalledLibrary(t, prefix, tmp)

	runMake(t, "install", "DESTDIR="+dest, "PREFIX=/usr", "BINDIR=/opt/glbridge/bin", build)
	svc = parseUnit(t, filepath.Join(dest, "usr/lib/systemd/user/glshare.service"))
	if got := svc.one(t, "Service", "ExecStart"); got != "/opt/glbridge/bin/glshare serve" {
		t.Errorf("with BINDIR=/opt/glbridge/bin: ExecStart=%s", got)
	}
	if _, err := os.Stat(filepath.Join(dest, "opt/glbridge/bin/glshare")); err != nil {
		t.Errorf("with BINDIR=/opt/glbridge/bin: %v", err)
	}
	runMake(t, "uninstall", "DESTDIR="+dest, "PREFIX=/usr", "BINDIR=/opt/glbridge/bin")
	runMake(t, "uninstall", "DESTDIR="+dest, "PREFIX=/usr")
	for rel := range want {
		if _, err := os.Lstat(filepath.Join(dest, rel)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("after make uninstall, %s: %v", rel, err)
		}
	}
	if _, err := os.Lstat(filepath.Join(dest, "opt/glbridge/bin/glshare")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("after make uninstall BINDIR=/opt/glbridge/bin: %v", err)
	}

	t.Run("systemd-analyze", func(t *testing.T) {
		analyze, err := exec.LookPath("systemd-analyze")
		if err != nil {
			t.Skip("systemd-analyze is not installed (Debian: systemd), so the units are not verified by systemd")
		}
		prefix := filepath.Join(tmp, "prefix")
		runMake(t, "install", "PREFIX="+prefix, build)
		units := filepath.Join(prefix, "lib/systemd/user")
		// A user manager's %t: verify refuses to start without one.
		run := filepath.Join(tmp, "run")
		if err := os.Mkdir(run, 0o700); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(analyze, "verify", "--user", "glshare.socket", "glshare.service")
		cmd.Dir = units
		cmd.Env = append(os.Environ(), "XDG_RUNTIME_DIR="+run, "SYSTEMD_LOG_COLOR=0")
		out, err := cmd.CombinedOutput()
		if err != nil || len(bytes.TrimSpace(out)) != 0 {
			t.Fatalf("systemd-analyze verify --user on the installed units: %v\n%s", err, out)
		}
		if got := parseUnit(t, filepath.Join(units, "glshare.service")).one(t, "Service", "ExecStart"); got != filepath.Join(prefix, "bin/glshare")+" serve" {
			t.Fatalf("ExecStart=%s", got)
		}
		t.Logf("systemd-analyze verify --user %s/{glshare.socket,glshare.service}: no complaints", units)
	})
}

// activated is a glshare serve started the way systemd starts the unit.
type activated struct {
	cmd    *exec.Cmd
	log    *syncBuffer
	exited chan error
}

// startActivated starts glshare as glshare.service's ExecStart says
// (its arguments after the binary) with the listening socket f as fd 3,
// LISTEN_FDS=1 and LISTEN_FDNAMES=fdName, XDG_RUNTIME_DIR=run as a user
// manager sets it, and LISTEN_PID the child's own pid: systemd sets it
// between fork and exec, here a shell does, which then execs glshare in
// its place (same pid). It returns once serve says it took the socket.
func startActivated(t *testing.T, bin string, args []string, f *os.File, fdName, run string) *activated {
	t.Helper()
	script := `LISTEN_PID=$$; export LISTEN_PID; exec "$0" "$@"`
	cmd := exec.Command("/bin/sh", append([]string{"-c", script, bin}, args...)...)
	for _, e := range os.Environ() {
		if k, _, _ := strings.Cut(e, "="); !strings.HasPrefix(k, "LISTEN_") && k != "XDG_RUNTIME_DIR" {
			cmd.Env = append(cmd.Env, e)
		}
	}
	cmd.Env = append(cmd.Env, "XDG_RUNTIME_DIR="+run, "LISTEN_FDS=1", "LISTEN_FDNAMES="+fdName)
	cmd.ExtraFiles = []*os.File{f}
	a := &activated{cmd: cmd, log: &syncBuffer{}, exited: make(chan error, 1)}
	cmd.Stdout, cmd.Stderr = a.log, a.log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { a.exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-a.exited
	})
	for deadline := time.Now().Add(60 * time.Second); !strings.Contains(a.log.String(), "using the socket passed by systemd"); time.Sleep(20 * time.Millisecond) {
		select {
		case err := <-a.exited:
			a.exited <- err
			t.Fatalf("activated glshare serve exited: %v\n%s", err, a.log.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("activated glshare serve did not take the socket within 60 s\n%s", a.log.String())
		}
	}
	return a
}

// stop sends SIGTERM, as systemctl stop does, and fails unless serve
// exits 0 within 30 s.
func (a *activated) stop(t *testing.T) {
	t.Helper()
	a.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-a.exited:
		a.exited <- err
		if err != nil {
			t.Fatalf("activated glshare serve after SIGTERM: %v\n%s", err, a.log.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("activated glshare serve did not stop within 30 s of SIGTERM\n%s", a.log.String())
	}
}

// mapped is the first n bytes of fd, read through a shared mapping.
func mapped(t *testing.T, fd, n int) []byte {
	t.Helper()
	m, err := unix.Mmap(fd, 0, n, unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(m)
	return append([]byte(nil), m...)
}

func fdSize(t *testing.T, fd int) int64 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		t.Fatal(err)
	}
	return st.Size
}

// parseUUID parses the 32 hex digits glshare info prints.
func parseUUID(t *testing.T, s string) bridge.UUID {
	t.Helper()
	var u bridge.UUID
	if b, err := hex.DecodeString(s); err != nil || len(b) != len(u) {
		t.Fatalf("UUID %q: want 32 hex digits", s)
	} else {
		copy(u[:], b)
	}
	return u
}

// TestServeSocketActivation starts glshare serve the way glshare.socket
// and glshare.service do: the test, as systemd, makes the unit's
// directory (DirectoryMode) and SOCK_SEQPACKET socket (SocketMode) at the
// unit's ListenSequentialPacket path with %t a temporary XDG_RUNTIME_DIR,
// and starts the unit's ExecStart with it as fd 3 (LISTEN_FDS=1,
// LISTEN_FDNAMES, LISTEN_PID the child's pid). Through that socket, found
// at broker.DefaultSocketPath() under that XDG_RUNTIME_DIR: a CREATE of
// the test's own memory, read back byte for byte by a second connection
// with OPEN_KMT and, after SHARE with a name, OPEN_NAME; an ALLOCATE of
// host memory; `glshare info --json` against the broker (its service
// allocation must say yes), and an ALLOCATE on the Vulkan device info
// reports (lavapipe on the CPU machine) by its UUIDs, which another
// connection opens and finds recorded with those UUIDs. Then, as a crash
// and Restart=on-failure would: the broker is killed (clients see
// ErrClosed; the socket file stays, since it is systemd's), a second one
// is started on the same socket, serves a fresh connection with nothing
// left of the first's resources, and exits 0 on SIGTERM, the socket file
// still there.
func TestServeSocketActivation(t *testing.T) {
	bin := glshareBinary(t)
	s := readSocketUnit(t, filepath.Join(unitDir, "glshare.socket"))
	execStart := strings.Fields(parseUnit(t, filepath.Join(unitDir, "glshare.service")).one(t, "Service", "ExecStart"))
	if len(execStart) < 2 || execStart[0] != "@BINDIR@/glshare" {
		t.Fatalf("ExecStart=%q", execStart)
	}
	args := execStart[1:]

	run := t.TempDir()
	if err := os.Chmod(run, 0o700); err != nil {
		t.Fatal(err)
	}
	path := strings.Replace(s.listen, "%t", run, 1)
	if err := os.Mkdir(filepath.Dir(path), s.dirMod); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Dir(path), s.dirMod); err != nil { // as systemd does, whatever the umask
		t.Fatal(err)
	}
	l, err := net.ListenUnix("unixpacket", &net.UnixAddr{Name: path, Net: "unixpacket"})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, s.socketMode); err != nil {
		t.Fatal(err)
	}
	f, err := l.File() // systemd's copy, kept across the broker's restart
	l.SetUnlinkOnClose(false)
	l.Close()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for p, want := range map[string]fs.FileMode{path: s.socketMode | fs.ModeSocket, filepath.Dir(path): s.dirMod | fs.ModeDir} {
		if st, err := os.Stat(p); err != nil || st.Mode() != want {
			t.Fatalf("%s: %v %v, want mode %v", p, st.Mode(), err, want)
		}
	}
	t.Setenv("XDG_RUNTIME_DIR", run)
	if broker.DefaultSocketPath() != path {
		t.Fatalf("clients look at %s, the unit listens on %s", broker.DefaultSocketPath(), path)
	}

	a := startActivated(t, bin, args, f, s.fdName, run)
	c1, c2 := dial(t, broker.DefaultSocketPath()), dial(t, path)

	// CREATE, then OPEN_KMT and OPEN_NAME from another connection.
	fd, err := unix.MemfdCreate("glshare-activation", unix.MFD_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	pattern := make([]byte, 4096)
	for i := range pattern {
		pattern[i] = byte(i*7 + 3)
	}
	if _, err := unix.Pwrite(fd, pattern, 0); err != nil {
		t.Fatal(err)
	}
	alloc := bridge.Allocation{Desc: bridge.Texture2D(16, 16, bridge.FormatR8G8B8A8Unorm), VkFormat: 37, Size: 4096}
	kmt, err := c1.Create(alloc, fd, []byte("runtime data"))
	if err != nil {
		t.Fatalf("CREATE through the activated socket: %v\n%s", err, a.log.String())
	}
	r, err := c2.OpenKMT(kmt)
	if err != nil {
		t.Fatalf("OPEN_KMT %v: %v", kmt, err)
	}
	got := mapped(t, r.FD, len(pattern))
	unix.Close(r.FD)
	if !bytes.Equal(got, pattern) || string(r.Data) != "runtime data" || r.Allocation.Size != alloc.Size {
		t.Fatalf("OPEN_KMT gave memory %x..., data %q, allocation %+v", got[:8], r.Data, r.Allocation)
	}
	if _, err := c1.Share(kmt, bridge.AccessRead, "glshare-activation-test"); err != nil {
		t.Fatalf("SHARE: %v", err)
	}
	r, err = c2.OpenName("glshare-activation-test", bridge.AccessRead)
	if err != nil {
		t.Fatalf("OPEN_NAME: %v", err)
	}
	got = mapped(t, r.FD, len(pattern))
	unix.Close(r.FD)
	if !bytes.Equal(got, pattern) || r.KMT != kmt {
		t.Fatalf("OPEN_NAME gave KMT %v (want %v), memory %x...", r.KMT, kmt, got[:8])
	}

	// ALLOCATE: host memory.
	desc := bridge.Texture2D(64, 32, bridge.FormatR8G8B8A8Unorm)
	host, err := c1.Allocate(broker.AllocateRequest{Desc: desc, HostMemory: true})
	if err != nil {
		t.Fatalf("ALLOCATE host memory: %v\n%s", err, a.log.String())
	}
	if size := fdSize(t, host.FD); !host.Allocation.HostMemory || !host.ServiceAllocated || size < 64*32*4 {
		t.Fatalf("ALLOCATE host memory: %+v, memfd of %d bytes", host, size)
	}
	unix.Close(host.FD)

	// glshare info against the activated broker, and ALLOCATE on its
	// Vulkan device's UUIDs.
	out, err := osexec(bin, "info", "--json", "--socket", path)
	if err != nil {
		t.Fatalf("glshare info --json: %v\n%s", err, out)
	}
	var info struct {
		VKDevice          string `json:"vk_device"`
		VKDriverUUID      string `json:"vk_driver_uuid"`
		VKDeviceUUID      string `json:"vk_device_uuid"`
		ServiceAllocation string `json:"service_allocation"`
		VKDevices         []struct {
			Name       string `json:"name"`
			DriverUUID string `json:"driver_uuid"`
			DeviceUUID string `json:"device_uuid"`
		} `json:"vk_devices"`
	}
	if err := json.Unmarshal(out, &info); err != nil {
		t.Fatalf("glshare info --json printed %q: %v", out, err)
	}
	if !strings.HasPrefix(info.ServiceAllocation, "yes (") {
		t.Fatalf("glshare info against the activated broker: service_allocation %q\n%s", info.ServiceAllocation, a.log.String())
	}
	name, drv, dev := info.VKDevice, info.VKDriverUUID, info.VKDeviceUUID
	for _, d := range info.VKDevices {
		if strings.Contains(d.Name, "llvmpipe") {
			name, drv, dev = d.Name, d.DriverUUID, d.DeviceUUID
			break
		}
	}
	id := bridge.DeviceID{Driver: parseUUID(t, drv), Device: parseUUID(t, dev)}
	vk, err := c1.Allocate(broker.AllocateRequest{Desc: desc, Device: id})
	if err != nil {
		t.Fatalf("ALLOCATE on %s (%v): %v\n%s", name, id, err, a.log.String())
	}
	unix.Close(vk.FD)
	for _, sy := range vk.Syncs {
		unix.Close(sy.FD)
	}
	if vk.Allocation.HostMemory || vk.Allocation.Device != id || !vk.ServiceAllocated {
		t.Fatalf("ALLOCATE on %s: %+v", name, vk.Allocation)
	}
	r, err = c2.OpenKMT(vk.KMT)
	if err != nil {
		t.Fatalf("OPEN_KMT of the device allocation: %v", err)
	}
	if r.Allocation != vk.Allocation || r.Allocation.Size == 0 || !r.ServiceAllocated {
		t.Fatalf("the device allocation opened elsewhere: %+v, allocated as %+v", r.Allocation, vk.Allocation)
	}
	unix.Close(r.FD)
	for _, sy := range r.Syncs {
		unix.Close(sy.FD)
	}
	if l, err := c1.List(); err != nil || len(l) != 3 {
		t.Fatalf("LIST: %+v, %v; want the created and the two allocated", l, err)
	}
	t.Logf("activated broker: CREATE/OPEN_KMT/OPEN_NAME, ALLOCATE host memory and on %s (%v)", name, id)

	// A crash, and the restart on the same socket.
	a.cmd.Process.Kill()
	<-a.exited
	a.exited <- nil
	if _, err := c1.List(); !errors.Is(err, bridge.ErrClosed) {
		t.Fatalf("LIST after the broker was killed: %v, want ErrClosed", err)
	}
	if _, err := os.Lstat(path); err != nil {
		t.Fatalf("the socket file after the broker died: %v", err)
	}
	b := startActivated(t, bin, args, f, s.fdName, run)
	c3 := dial(t, broker.DefaultSocketPath())
	if l, err := c3.List(); err != nil || len(l) != 0 {
		t.Fatalf("LIST on the restarted broker: %+v, %v; want nothing", l, err)
	}
	if _, err := createOwn(t, c3); err != nil {
		t.Fatalf("CREATE on the restarted broker: %v", err)
	}
	b.stop(t)
	if st, err := os.Lstat(path); err != nil || st.Mode().Type() != fs.ModeSocket {
		t.Fatalf("the socket file after serve stopped: %v, %v; the socket is systemd's, not the broker's to remove", st, err)
	}
	if strings.Contains(b.log.String(), "level=ERROR") {
		t.Errorf("the restarted broker logged errors:\n%s", b.log.String())
	}
}

// osexec runs a program and returns its stdout (stderr appended on
// failure), within 5 minutes.
func osexec(bin string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return append(out, stderr.Bytes()...), fmt.Errorf("%s %s: %w", bin, strings.Join(args, " "), err)
	}
	return out, nil
}

// checkInstalledLibrary builds a C program against the libglbridge that
// make install put in root, the way a renderer's build finds it:
// pkg-config glbridge, and runs it against the installed shared library.
// root is a DESTDIR staging prefix /usr, or (with no usr/ in it) the
// PREFIX itself.
func checkInstalledLibrary(t *testing.T, root, tmp string) {
	t.Helper()
	lib := filepath.Join(root, "lib")
	env := []string{"PKG_CONFIG_LIBDIR=" + filepath.Join(lib, "pkgconfig")}
	if _, err := os.Stat(filepath.Join(root, "usr")); err == nil {
		lib = filepath.Join(root, "usr/lib")
		env = []string{"PKG_CONFIG_LIBDIR=" + filepath.Join(lib, "pkgconfig"), "PKG_CONFIG_SYSROOT_DIR=" + root}
	}
	include := filepath.Join(filepath.Dir(lib), "include")
	pc := exec.Command("pkg-config", "--cflags", "--libs", "glbridge")
	pc.Env = append(os.Environ(), env...)
	flags, err := pc.Output()
	if err != nil {
		t.Fatalf("pkg-config glbridge against the installed glbridge.pc: %v", err)
	}
	if !strings.Contains(string(flags), include) || !strings.Contains(string(flags), "-lglbridge") {
		t.Errorf("pkg-config glbridge gives %q", flags)
	}
	src := filepath.Join(tmp, "uses-glbridge.c")
	prog := `#include <glbridge.h>
#include <stdio.h>
int main(void) {
    char path[256];
    if (glbridge_default_socket_path(path, sizeof path) != GLBRIDGE_OK) return 1;
    printf("%s|%s\n", glbridge_strerror(GLBRIDGE_E_NOT_FOUND), path);
    return 0;
}
`
	if err := os.WriteFile(src, []byte(prog), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(tmp, "uses-glbridge")
	cc := exec.Command("gcc", append([]string{"-std=c99", "-Wall", "-Wextra", "-Werror", "-o", bin, src}, strings.Fields(string(flags))...)...)
	if out, err := cc.CombinedOutput(); err != nil {
		t.Fatalf("%v: %v\n%s", cc, err, out)
	}
	run := exec.Command(bin)
	run.Env = append(os.Environ(), "LD_LIBRARY_PATH="+lib, "XDG_RUNTIME_DIR=/run/user/4242")
	out, err := run.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "|/run/user/4242/glbridge/broker.sock") {
		t.Errorf("a program linked against the installed libglbridge: %v\n%s", err, out)
	}
	ldd := exec.Command("ldd", bin)
	ldd.Env = run.Env
	lout, _ := ldd.CombinedOutput()
	if !strings.Contains(string(lout), filepath.Join(lib, "libglbridge.so.0")) {
		t.Errorf("the program does not link the installed shared libglbridge:\n%s", lout)
	}
}
