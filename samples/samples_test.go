package samples_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/bridge/broker"
	"github.com/glbridge/glbridge/helperdev"
	"github.com/glbridge/glbridge/internal/testenv/testbroker"
	"github.com/glbridge/glbridge/testpattern"
	"github.com/glbridge/glbridge/vkalloc"
)

// cFlags are the Makefile's flags for the C client (target samples).
var cFlags = []string{"-std=c99", "-Wall", "-Wextra", "-Werror", "-O2"}

// cxxFlags are the C++ consumer's: C++17, as a C++ renderer builds the
// header.
var cxxFlags = []string{"-std=c++17", "-Wall", "-Wextra", "-Werror", "-pedantic", "-O2"}

const sampleTimeout = 60 * time.Second

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// sample returns the path of a built sample, building them all (the Go
// ones with go build, the C client with gcc) the first time.
func sample(t *testing.T, name string) string {
	t.Helper()
	// GLBRIDGE_SAMPLES_BIN names a folder of samples built beforehand, for
	// a test binary (go test -c) run where there is no Go or compiler.
	if dir := os.Getenv("GLBRIDGE_SAMPLES_BIN"); dir != "" {
		return filepath.Join(dir, name)
	}
	buildOnce.Do(func() {
		if binDir, buildErr = os.MkdirTemp("", "glbridge-samples-"); buildErr != nil {
			return
		}
		gobuild := exec.Command("go", "build", "-o", binDir+"/", "github.com/glbridge/glbridge/samples/...")
		if out, err := gobuild.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("%v: %v\n%s", gobuild, err, out)
			return
		}
		gcc := exec.Command("gcc", append(cFlags, "-o", filepath.Join(binDir, "c-client"), "c-client/c-client.c", "-ldl")...)
		// The C++ consumer links libglbridge, built by its own Makefile.
		lib := exec.Command("make", "-C", "../libglbridge")
		gxx := exec.Command("g++", append(cxxFlags, "-I../libglbridge/include", "-o", filepath.Join(binDir, "cpp-consumer"),
			"cpp-consumer/cpp-consumer.cpp", "../libglbridge/build/libglbridge.a", "-pthread")...)
		// The C renderer links libglbridge and EGL.
		crend := exec.Command("gcc", append(cFlags, "-I../libglbridge/include", "-o", filepath.Join(binDir, "c-renderer"),
			"c-renderer/c-renderer.c", "c-renderer/testpattern.c", "../libglbridge/build/libglbridge.a", "-lEGL", "-pthread")...)
		for _, cmd := range []*exec.Cmd{gcc, lib, gxx, crend} {
			if out, err := cmd.CombinedOutput(); err != nil {
				buildErr = fmt.Errorf("%v: %v\n%s", cmd, err, out)
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return filepath.Join(binDir, name)
}

// run runs a sample to completion and returns its exit code and its
// standard output and error together.
func run(t *testing.T, name string, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), sampleTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, sample(t, name), args...).CombinedOutput()
	t.Logf("%s %s:\n%s", name, strings.Join(args, " "), out)
	if ctx.Err() != nil {
		t.Fatalf("%s did not finish within %v", name, sampleTimeout)
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), string(out)
	} else if err != nil {
		t.Fatal(err)
	}
	return 0, string(out)
}

// mustPass runs a sample that must exit 0 and print want.
func mustPass(t *testing.T, want string, name string, args ...string) {
	t.Helper()
	code, out := run(t, name, args...)
	if code != 0 || !strings.Contains(out, want) {
		t.Fatalf("%s exited with %d and printed %q; want status 0 and %q", name, code, out, want)
	}
}

// mustFail runs a sample that must exit with status 1 and explain why.
func mustFail(t *testing.T, want string, name string, args ...string) {
	t.Helper()
	code, out := run(t, name, args...)
	if code != 1 || !strings.Contains(out, want) {
		t.Fatalf("%s exited with %d and printed %q; want status 1 and %q", name, code, out, want)
	}
}

func TestGLToVulkan(t *testing.T) {
	mustPass(t, "OK: Vulkan read all 49152 texels", "gl-to-vulkan", "-frame", "11")
}

func TestVulkanToGL(t *testing.T) {
	mustPass(t, "read all 49152 texels of texture", "vulkan-to-gl", "-frame", "11")
}

// startBroker serves a broker in the test process on a fresh socket and
// returns the socket and a client of it.
func startBroker(t *testing.T) (string, *broker.Client) {
	t.Helper()
	sock := testbroker.Start(t)
	c, err := broker.Dial(sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return sock, c
}

// background is a sample that runs while the test talks to it.
type background struct {
	cmd   *exec.Cmd
	lines chan string
	mu    sync.Mutex
	out   []string
	done  chan error
}

// start starts a sample in the background; it is killed when the test ends.
func start(t *testing.T, name string, args ...string) *background {
	t.Helper()
	return startEnv(t, nil, name, args...)
}

// startEnv is start with env added to the sample's environment.
func startEnv(t *testing.T, env []string, name string, args ...string) *background {
	t.Helper()
	cmd := exec.Command(sample(t, name), args...)
	cmd.Env = append(os.Environ(), env...)
	return startCmd(t, cmd, name, args...)
}

// startCmd starts cmd (sample name with args) as start does.
func startCmd(t *testing.T, cmd *exec.Cmd, name string, args ...string) *background {
	t.Helper()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout // both into the pipe
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	bg := &background{cmd: cmd, lines: make(chan string, 100), done: make(chan error, 1)}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			bg.mu.Lock()
			bg.out = append(bg.out, sc.Text())
			bg.mu.Unlock()
			bg.lines <- sc.Text()
		}
		close(bg.lines)
		bg.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-bg.lines
		t.Logf("%s %s:\n%s", name, strings.Join(args, " "), bg.output())
	})
	return bg
}

func (bg *background) output() string {
	bg.mu.Lock()
	defer bg.mu.Unlock()
	return strings.Join(bg.out, "\n")
}

// expect waits for a line starting with prefix and returns the rest.
func (bg *background) expect(t *testing.T, prefix string) string {
	t.Helper()
	timeout := time.After(sampleTimeout)
	for {
		select {
		case l, ok := <-bg.lines:
			if !ok {
				t.Fatalf("%s ended before printing %q:\n%s", bg.cmd.Path, prefix, bg.output())
			}
			if rest, ok := strings.CutPrefix(l, prefix); ok {
				return strings.TrimSpace(rest)
			}
		case <-timeout:
			t.Fatalf("%s printed no %q within %v:\n%s", bg.cmd.Path, prefix, sampleTimeout, bg.output())
		}
	}
}

// stop sends SIGTERM and checks that the sample exits with status 0.
func (bg *background) stop(t *testing.T) {
	t.Helper()
	bg.cmd.Process.Signal(syscall.SIGTERM)
	for range bg.lines {
	}
	select {
	case err := <-bg.done:
		if err != nil {
			t.Fatalf("%s: %v after SIGTERM:\n%s", bg.cmd.Path, err, bg.output())
		}
	case <-time.After(sampleTimeout):
		t.Fatalf("%s did not exit after SIGTERM", bg.cmd.Path)
	}
}

// TestCrossProcess: the producer shares a texture through a broker; the
// consumer opens it by KMT handle and by name, into GL and into Vulkan, and
// the C client opens it by KMT handle; each checks every texel.
func TestCrossProcess(t *testing.T) {
	sock, c := startBroker(t)
	const name, frame = `Local\glbridge-sample-test`, "9"
	prod := start(t, "producer", "-socket", sock, "-name", name, "-frame", frame)
	kmt := prod.expect(t, "KMT ")

	for _, tc := range []struct {
		what string
		args []string
	}{
		{"GL by KMT", []string{"-kmt", kmt}},
		{"GL by name", []string{"-name", name}},
		{"Vulkan by KMT", []string{"-kmt", kmt, "-vulkan"}},
		{"Vulkan by name", []string{"-name", name, "-vulkan"}},
	} {
		t.Run("consumer "+tc.what, func(t *testing.T) {
			mustPass(t, "OK: all 49152 texels", "consumer", append(tc.args, "-socket", sock, "-frame", frame)...)
		})
	}
	t.Run("c-client", func(t *testing.T) {
		mustPass(t, "OK: all 49152 texels of KMT "+kmt, "c-client", sock, kmt, frame)
	})

	// The checks can fail: a frame the producer did not draw, a handle it
	// did not share, a broker that is not there.
	t.Run("consumer wrong frame", func(t *testing.T) {
		mustFail(t, "not frame 10 of the test pattern: texel", "consumer", "-socket", sock, "-kmt", kmt, "-frame", "10")
	})
	t.Run("c-client wrong frame", func(t *testing.T) {
		mustFail(t, "texels differ from frame 10 of the test pattern; the first, (0,0), is 255,255,255,255, want 64,64,64,255", "c-client", sock, kmt, "10")
	})
	forged := bridge.Handle(0x4fffffc2) // slot 0xffff, beyond every broker's resources
	if !forged.IsKMT() {
		t.Fatalf("%v does not have a KMT handle's shape", forged)
	}
	t.Run("consumer forged handle", func(t *testing.T) {
		mustFail(t, "not found: no resource 0x4fffffc2", "consumer", "-socket", sock, "-kmt", forged.String())
	})
	t.Run("c-client forged handle", func(t *testing.T) {
		mustFail(t, "broker refused OPEN_KMT 0x4fffffc2: NOT_FOUND (7): no resource 0x4fffffc2", "c-client", sock, forged.String(), frame)
	})
	t.Run("c-client not a handle", func(t *testing.T) {
		mustFail(t, "BAD_HANDLE (6)", "c-client", sock, "0x1235", frame)
	})
	t.Run("c-client no broker", func(t *testing.T) {
		mustFail(t, "(is `glshare serve` running?)", "c-client", filepath.Join(t.TempDir(), "none.sock"), kmt, frame)
	})

	// Every consumer has let go; when the producer does, the resource goes.
	prod.stop(t)
	if !strings.Contains(prod.output(), "producer: released "+kmt) {
		t.Errorf("the producer did not report releasing %s:\n%s", kmt, prod.output())
	}
	waitNoResources(t, c)
}

// waitNoResources waits until the broker has freed every resource, as it
// does once the connections holding them have ended (it learns of a
// process's exit asynchronously).
func waitNoResources(t *testing.T, c *broker.Client) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		l, err := c.List()
		if err != nil {
			t.Fatal(err)
		}
		if len(l) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the broker still lists %d resources 5s after the samples ended: %+v", len(l), l)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestKeyedMutex: a GL process and the Vulkan process it starts take turns
// on one texture, each checking the frame the other wrote.
func TestKeyedMutex(t *testing.T) {
	sock, c := startBroker(t)
	const rounds = 4
	code, out := run(t, "keyedmutex", "-socket", sock, "-rounds", strconv.Itoa(rounds))
	want := fmt.Sprintf("OK: %d rounds", rounds)
	if code != 0 || !strings.Contains(out, want) {
		t.Fatalf("keyedmutex exited with %d and printed %q; want status 0 and %q", code, out, want)
	}
	// Every turn happened, in order: GL drew 0, 2, 4, 6; Vulkan wrote 1, 3, 5, 7.
	for f := 0; f < 2*rounds; f += 2 {
		for _, l := range []string{
			fmt.Sprintf("vulkan: checked frame %d from GL, wrote frame %d\n", f, f+1),
			fmt.Sprintf("gl: checked frame %d from Vulkan", f+1),
		} {
			if !strings.Contains(out, l) {
				t.Errorf("keyedmutex did not print %q", strings.TrimSpace(l))
			}
		}
	}
	waitNoResources(t, c)
	mustFail(t, "(is `glshare serve` running?)", "keyedmutex", "-socket", filepath.Join(t.TempDir(), "none.sock"))
}

// TestCClientRecordWithSyncAndData: a resource whose record carries sync
// objects (as keyed-mutex resources do where drivers share timeline
// semaphores) and private data has a longer record and more fds; the C
// client must decode that too. Mesa shares no semaphores, so a memfd stands
// in for the semaphore fd: the broker does not look inside sync fds, and the
// client only closes them.
func TestCClientRecordWithSyncAndData(t *testing.T) {
	sock, c := startBroker(t)
	pds, err := helperdev.ListPhysicalDevices()
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(pds, func(p helperdev.PhysicalDeviceInfo) bool { return p.ExternalMemoryFD })
	if i < 0 {
		t.Skipf("no Vulkan device exports memory fds: %+v", pds)
	}
	dev, err := helperdev.Open(helperdev.Config{Device: bridge.DeviceID{Driver: pds[i].Device.Driver, Device: pds[i].Device.Device}, Peer: pds[i].Name})
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	const w, h, frame = 64, 48, 5
	img, err := vkalloc.NewImage(dev, bridge.Desc{Dimension: bridge.DimensionTexture2D, Width: w, Height: h, DepthOrArraySize: 1, MipLevels: 1, SampleCount: 1, Format: bridge.FormatR8G8B8A8Unorm})
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	if err := img.WritePixels(bridge.Subresource{}, testpattern.Expected(w, h, frame), vkalloc.Sync{}); err != nil {
		t.Fatal(err)
	}
	fd, err := img.ExportFD()
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	sem, err := unix.MemfdCreate("stand-in-semaphore", unix.MFD_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(sem)
	kmt, err := c.CreateWithSync(img.Allocation(), fd, []byte("d3d11 private runtime data"), []broker.SyncFD{{FD: sem, Timeline: true}})
	if err != nil {
		t.Fatal(err)
	}
	mustPass(t, "the record lists 1 sync object(s) and 26 bytes of private runtime data", "c-client", sock, kmt.String(), strconv.Itoa(frame))
	mustPass(t, fmt.Sprintf("OK: all %d texels of KMT %v", w*h, kmt), "c-client", sock, kmt.String(), strconv.Itoa(frame))
	mustFail(t, "MISMATCH", "c-client", sock, kmt.String(), strconv.Itoa(frame+1))
}

// TestServiceProducer: the producer has the broker allocate its texture
// (-service) and so loads no Vulkan; consumers in GL, in Vulkan and in C
// (c-client, Vulkan) check every texel of the broker's Vulkan memory, and
// the C++ consumer, which links libglbridge and nothing else, reads the GL
// view from the record. With the copy path forced the broker allocates host
// memory, which the C++ consumer maps and hands back, every byte the test
// pattern's.
func TestServiceProducer(t *testing.T) {
	sock, _ := startBroker(t)
	const frame = 13
	noVulkan := func(bg *background) {
		t.Helper()
		maps, err := os.ReadFile(fmt.Sprintf("/proc/%d/maps", bg.cmd.Process.Pid))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(maps), "libvulkan") {
			t.Error("the producer allocating through the service loaded libvulkan")
		}
	}
	t.Run("vulkan memory", func(t *testing.T) {
		name := `Local\glbridge-service-sample`
		prod := start(t, "producer", "-service", "-socket", sock, "-name", name, "-frame", strconv.Itoa(frame))
		kmt := prod.expect(t, "KMT ")
		noVulkan(prod)
		mustPass(t, "OK: all 49152 texels", "consumer", "-socket", sock, "-name", name, "-frame", strconv.Itoa(frame))
		mustPass(t, "OK: all 49152 texels", "consumer", "-socket", sock, "-kmt", kmt, "-vulkan", "-frame", strconv.Itoa(frame))
		mustPass(t, "OK: all 49152 texels of KMT "+kmt, "c-client", sock, kmt, strconv.Itoa(frame))
		mustPass(t, "GL target 0xde1, internal format 0x8058", "cpp-consumer", sock, name, filepath.Join(t.TempDir(), "unused"))
		prod.stop(t)
	})
	t.Run("host memory", func(t *testing.T) {
		name := `Local\glbridge-service-sample-host`
		prod := startEnv(t, []string{"GLBRIDGE_FORCE_COPY=1"}, "producer", "-service", "-socket", sock, "-name", name, "-frame", strconv.Itoa(frame))
		prod.expect(t, "KMT ")
		noVulkan(prod)
		out := filepath.Join(t.TempDir(), "top.rgba")
		mustPass(t, "OK: wrote 196608 bytes of level 0", "cpp-consumer", sock, name, out)
		got, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		want := testpattern.Expected(256, 192, frame)
		if len(got) != len(want) {
			t.Fatalf("the C++ consumer read %d bytes, want %d", len(got), len(want))
		}
		for i := range want {
			if d := int(got[i]) - int(want[i]); d < -1 || d > 1 {
				t.Fatalf("byte %d (texel %d,%d) is %d through libglbridge, want %d", i, i/4%256, i/4/256, got[i], want[i])
			}
		}
		mustFail(t, "NOT_FOUND", "cpp-consumer", sock, name+"-none", out)
		prod.stop(t)
	})
}

// checkNoVulkan fails the test if the running sample has libvulkan mapped.
func checkNoVulkan(t *testing.T, bg *background) {
	t.Helper()
	maps, err := os.ReadFile(fmt.Sprintf("/proc/%d/maps", bg.cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(maps), "libvulkan") {
		t.Errorf("%s loaded libvulkan", bg.cmd.Path)
	}
}

// startRenderer starts the C renderer sharing frame as name, with env
// added and a pipe as its standard input (whose end also ends it).
func startRenderer(t *testing.T, env []string, sock, name string, frame int) (*background, io.WriteCloser) {
	t.Helper()
	args := []string{sock, name, strconv.Itoa(frame)}
	cmd := exec.Command(sample(t, "c-renderer"), args...)
	cmd.Env = append(os.Environ(), env...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	return startCmd(t, cmd, "c-renderer", args...), stdin
}

// rendererSync reads the sync path the renderer printed ("SYNC timeline" or
// "SYNC fence", before its KMT line) and checks it against what its GL
// offers: the timeline path exactly where GL has GL_EXT_semaphore_fd and
// GL_NV_timeline_semaphore (NVIDIA) and timeline is allowed (Vulkan memory,
// no GLBRIDGE_FORCE_FALLBACK=1); else the fence path (Mesa 22.3, which has
// no GL_EXT_semaphore_fd, host memory, the forced fallback). It returns
// the path.
func rendererSync(t *testing.T, rend *background, timelineAllowed bool) string {
	t.Helper()
	got := rend.expect(t, "SYNC ")
	hasTimeline := strings.Contains(rend.output(), "(GL_EXT_semaphore_fd 1, GL_NV_timeline_semaphore 1)")
	want := "fence"
	if hasTimeline && timelineAllowed {
		want = "timeline"
	}
	if !hasTimeline {
		t.Logf("GL has no timeline semaphores (Mesa): the renderer must take the fence path")
	}
	if got != want {
		t.Fatalf("the renderer printed SYNC %s, want SYNC %s:\n%s", got, want, rend.output())
	}
	return got
}

// TestCRenderer: the C renderer (EGL + libglbridge, the wined3d role) has
// the broker allocate a texture on GL's UUIDs, draws a frame into it and
// shares it; the C client (Vulkan) opens it by KMT handle, the Go consumer
// by name in GL and in Vulkan, and the C renderer itself (--read) in GL,
// each checking every texel, while the renderer has no libvulkan mapped.
// With GLBRIDGE_FORCE_COPY=1 it uses host memory through libglbridge's
// copy path, which GL consumers and the Go consumer's Vulkan side (which
// copies host memory too) read. The renderer writes between
// AcquireSync(0) and ReleaseSync(1) of the texture's keyed mutex, with a
// timeline semaphore where GL has them and on the fence path (glFinish)
// elsewhere; --read reads between AcquireSync(1) and ReleaseSync(0), and the
// renderer hands the frame back to the next reader.
func TestCRenderer(t *testing.T) {
	sock, c := startBroker(t)
	const texels = "OK: all 49152 texels"
	t.Run("vulkan memory", func(t *testing.T) {
		const name, frame = `Local\glbridge-c-renderer`, 21
		f := strconv.Itoa(frame)
		rend, _ := startRenderer(t, nil, sock, name, frame)
		sync := rendererSync(t, rend, true)
		kmt := rend.expect(t, "KMT ")
		if !strings.Contains(rend.output(), "Vulkan memory the broker allocated on GL's UUIDs (zero-copy)") {
			t.Fatalf("the renderer did not allocate Vulkan memory on GL's UUIDs:\n%s", rend.output())
		}
		checkNoVulkan(t, rend)
		mustPass(t, texels+" of KMT "+kmt, "c-client", sock, kmt, f)
		mustPass(t, texels+" read through GL", "consumer", "-socket", sock, "-name", name, "-frame", f)
		mustPass(t, texels+" read through Vulkan", "consumer", "-socket", sock, "-name", name, "-vulkan", "-frame", f)
		mustPass(t, texels+" of KMT "+kmt+` read through GL "`, "c-renderer", "--read", sock, kmt, f)
		mustPass(t, "SYNC "+sync+": keyed mutex key 1", "c-renderer", "--read", sock, kmt, f)
		mustFail(t, "differ from frame 22 of the test pattern", "c-renderer", "--read", sock, kmt, "22")
		// The reads went through the keyed mutex, each handed back.
		mustPass(t, "SYNC "+sync+": keyed mutex key 1", "c-renderer", "--read", sock, kmt, f)
		mustFail(t, "texels differ from frame 22", "c-client", sock, kmt, "22")
		checkNoVulkan(t, rend)
		rend.stop(t)
		if !strings.Contains(rend.output(), "c-renderer: SIGTERM: released "+kmt) {
			t.Errorf("the renderer did not report releasing %s:\n%s", kmt, rend.output())
		}
	})
	t.Run("host memory", func(t *testing.T) {
		const name, frame = `Local\glbridge-c-renderer-host`, 300
		f := strconv.Itoa(frame)
		rend, _ := startRenderer(t, []string{"GLBRIDGE_FORCE_COPY=1"}, sock, name, frame)
		rendererSync(t, rend, false) // host memory has no semaphores
		kmt := rend.expect(t, "KMT ")
		if !strings.Contains(rend.output(), "host memory the broker allocated (copy path: GLBRIDGE_FORCE_COPY=1)") {
			t.Fatalf("the renderer did not take host memory:\n%s", rend.output())
		}
		checkNoVulkan(t, rend)
		mustPass(t, texels+" read through GL", "consumer", "-socket", sock, "-name", name, "-frame", f)
		// share's Vulkan side copies host memory into an image of its own:
		// the copy path has a Vulkan reader too.
		if code, out := run(t, "consumer", "-socket", sock, "-name", name, "-vulkan", "-frame", f); code != 0 ||
			!strings.Contains(out, texels+" read through Vulkan device") || !strings.Contains(out, "(copy (host memory)") {
			t.Fatalf("the Vulkan consumer exited with %d and printed %q; want 0 and %q through a copy of host memory", code, out, texels+" read through Vulkan device")
		}
		mustPass(t, texels+" of KMT "+kmt+` read through GL "`, "c-renderer", "--read", sock, kmt, f)
		mustPass(t, "SYNC fence: keyed mutex key 1", "c-renderer", "--read", sock, kmt, f)
		mustFail(t, "differ from frame 301 of the test pattern", "c-renderer", "--read", sock, kmt, "301")
		// c-client maps host memory and reads its packed texels, as a
		// Vulkan renderer does before uploading them.
		mustPass(t, "read the texels from host memory (the copy path)", "c-client", sock, kmt, f)
		mustPass(t, "OK: all 49152 texels of KMT "+kmt, "c-client", sock, kmt, f)
		mustFail(t, "MISMATCH", "c-client", sock, kmt, "301")
		checkNoVulkan(t, rend)
		rend.stop(t)
	})
	t.Run("ends at EOF", func(t *testing.T) {
		// The forced fallback takes the fence path on every GL.
		rend, stdin := startRenderer(t, []string{"GLBRIDGE_FORCE_FALLBACK=1"}, sock, `Local\glbridge-c-renderer-eof`, 1)
		rendererSync(t, rend, false)
		kmt := rend.expect(t, "KMT ")
		mustPass(t, "SYNC fence: keyed mutex key 1", "c-renderer", "--read", sock, kmt, "1")
		stdin.Close()
		for range rend.lines {
		}
		select {
		case err := <-rend.done:
			if err != nil {
				t.Fatalf("the renderer: %v after its standard input ended:\n%s", err, rend.output())
			}
		case <-time.After(sampleTimeout):
			t.Fatal("the renderer did not exit when its standard input ended")
		}
		if !strings.Contains(rend.output(), "end of standard input: released "+kmt) {
			t.Errorf("the renderer did not report releasing %s at EOF:\n%s", kmt, rend.output())
		}
	})
	t.Run("errors", func(t *testing.T) {
		mustFail(t, "OPEN_KMT 0x4fffffc2: no such resource, handle or name (NOT_FOUND): no resource 0x4fffffc2", "c-renderer", "--read", sock, "0x4fffffc2", "1")
		mustFail(t, "(is `glshare serve` running?)", "c-renderer", "--read", filepath.Join(t.TempDir(), "none.sock"), "0x40400002", "1")
		if code, out := run(t, "c-renderer", "--read", sock); code != 2 || !strings.Contains(out, "usage:") {
			t.Errorf("c-renderer with a wrong command line exited with %d and printed %q; want 2 and its usage", code, out)
		}
	})
	waitNoResources(t, c)
}

// TestCRendererCycles: the C renderer allocates, imports (or, for host
// memory, fills a copy texture from) and closes 200 textures, and has as
// many fds open after the last cycle as before the first; the broker then
// lists nothing.
func TestCRendererCycles(t *testing.T) {
	sock, c := startBroker(t)
	const n = 200
	for _, tc := range []struct {
		what string
		env  []string
		via  string
	}{
		{"vulkan memory", nil, "zero-copy import"},
		{"host memory", []string{"GLBRIDGE_FORCE_COPY=1"}, "copy texture filled from host memory"},
	} {
		t.Run(tc.what, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 4*sampleTimeout)
			defer cancel()
			cmd := exec.CommandContext(ctx, sample(t, "c-renderer"), "--cycles", sock, strconv.Itoa(n))
			cmd.Env = append(os.Environ(), tc.env...)
			b, err := cmd.CombinedOutput()
			out := string(b)
			t.Logf("c-renderer --cycles %s %d:\n%s", sock, n, out)
			if err != nil {
				t.Fatalf("c-renderer --cycles: %v", err)
			}
			if !strings.Contains(out, tc.via) {
				t.Errorf("the cycles did not go through %s", tc.via)
			}
			var got, before, after int
			i := strings.Index(out, "CYCLES ")
			if i < 0 {
				t.Fatal("c-renderer printed no CYCLES line")
			}
			if _, err := fmt.Sscanf(out[i:], "CYCLES %d fds %d before %d after", &got, &before, &after); err != nil {
				t.Fatalf("the CYCLES line: %v", err)
			}
			if got != n || before != after || before == 0 {
				t.Errorf("%d cycles, %d fds before and %d after; want %d cycles and as many fds after as before", got, before, after, n)
			}
			l, err := c.List()
			if err != nil {
				t.Fatal(err)
			}
			if len(l) != 0 {
				t.Errorf("the broker still lists %d resources after the cycles: %+v", len(l), l)
			}
		})
	}
}

// TestCRendererReadsProducer: the Go producer shares a frame, drawn by GL
// into memory the broker allocated (-service: Vulkan memory, or host memory
// with GLBRIDGE_FORCE_COPY=1) or its own helper device's; the C renderer
// (--read) opens it by KMT handle in GL and checks every texel.
func TestCRendererReadsProducer(t *testing.T) {
	sock, c := startBroker(t)
	const frame = 17
	f := strconv.Itoa(frame)
	for _, tc := range []struct {
		what string
		env  []string
		args []string
		via  string
	}{
		{"service vulkan memory", nil, []string{"-service"}, "(zero-copy import)"},
		{"service host memory", []string{"GLBRIDGE_FORCE_COPY=1"}, []string{"-service"}, "(host memory, copy path)"},
		{"producer's own vulkan memory", nil, nil, "(zero-copy import)"},
	} {
		t.Run(tc.what, func(t *testing.T) {
			prod := startEnv(t, tc.env, "producer", append(tc.args, "-socket", sock, "-frame", f)...)
			kmt := prod.expect(t, "KMT ")
			mustPass(t, "OK: all 49152 texels of KMT "+kmt, "c-renderer", "--read", sock, kmt, f)
			mustPass(t, tc.via+" are frame "+f, "c-renderer", "--read", sock, kmt, f)
			// The producer's resource has no keyed mutex.
			mustPass(t, "SYNC none: no keyed mutex", "c-renderer", "--read", sock, kmt, f)
			mustFail(t, "MISMATCH", "c-renderer", "--read", sock, kmt, strconv.Itoa(frame+1))
			prod.stop(t)
		})
	}
	waitNoResources(t, c)
}

// TestCRendererPattern: the C renderer's port of the test pattern
// (samples/c-renderer/testpattern.c), dumped with --dump, is
// testpattern.Expected byte for byte, for several sizes and frames.
func TestCRendererPattern(t *testing.T) {
	bin := sample(t, "c-renderer")
	sizes := [][2]int{{256, 192}, {67, 33}, {16, 16}, {1, 1}, {15, 3}, {1000, 7}, {17, 301}}
	frames := []int{0, 1, 7, 13, 255, 65535, 70001}
	for _, sz := range sizes {
		for _, frame := range frames {
			w, h := sz[0], sz[1]
			out, err := exec.Command(bin, "--dump", strconv.Itoa(w), strconv.Itoa(h), strconv.Itoa(frame)).Output()
			if err != nil {
				t.Fatalf("c-renderer --dump %d %d %d: %v", w, h, frame, err)
			}
			want := testpattern.Expected(w, h, frame)
			if len(out) != len(want) {
				t.Fatalf("%dx%d frame %d: the C port wrote %d bytes, want %d", w, h, frame, len(out), len(want))
			}
			for i := range want {
				if out[i] != want[i] {
					t.Fatalf("%dx%d frame %d: byte %d (texel %d,%d) is %d in the C port, %d in testpattern.Expected",
						w, h, frame, i, i/4%w, i/4/w, out[i], want[i])
				}
			}
		}
	}
	if code, out := run(t, "c-renderer", "--dump", "0", "1", "1"); code != 2 || !strings.Contains(out, "W 0") {
		t.Errorf("c-renderer --dump 0 1 1 exited with %d and printed %q; want 2 and a complaint about W", code, out)
	}
}
