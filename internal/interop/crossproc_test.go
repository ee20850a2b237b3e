package interop_test

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-gl/gl/v3.2-compatibility/gl"
	"golang.org/x/sys/unix"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/bridge/broker"
	"github.com/glbridge/glbridge/helperdev"
	"github.com/glbridge/glbridge/internal/glutil"
	"github.com/glbridge/glbridge/internal/gpuenv"
	"github.com/glbridge/glbridge/internal/testenv"
	"github.com/glbridge/glbridge/internal/testenv/testbroker"
	"github.com/glbridge/glbridge/testpattern"
	"github.com/glbridge/glbridge/vkalloc"
)

// The private runtime data a D3D layer would attach; it must arrive intact.
var privateData = []byte("d3d11 private runtime data: TEXTURE2D_DESC v4")

const crossW, crossH, crossFrame = 67, 33, 7

// startBroker serves a broker in this process on a fresh socket.
func startBroker(t testing.TB) string { return testbroker.Start(t) }

// TestMain runs the child processes of the cross-process tests, or the
// tests.
func TestMain(m *testing.M) {
	testenv.Dispatch(map[string]testenv.Body{
		"gl-producer": glProducer,
		"gl-consumer": func(in *bufio.Scanner) error { return consumer(in, false) },
		"vk-consumer": func(in *bufio.Scanner) error { return consumer(in, true) },
	})
	os.Exit(m.Run())
}

// glProducer is the wined3d role: a GL context draws the test pattern into
// a texture backed by the helper device's memory and shares it.
func glProducer(in *bufio.Scanner) error {
	env, err := gpuenv.NewEnv("")
	if err != nil {
		return err
	}
	defer env.Close()
	c, err := broker.Dial(os.Getenv("GLB_SOCK"))
	if err != nil {
		return err
	}
	defer c.Close()
	d := desc2D(crossW, crossH, bridge.FormatR8G8B8A8Unorm)
	d.MiscFlags = 0x2 // D3D11_RESOURCE_MISC_SHARED
	s, fd, err := exportShared(env, d)
	if err != nil {
		return err
	}
	defer s.close(env)
	defer unix.Close(fd)
	env.GL.Call(func() {
		if err = testpattern.Draw(s.tex.Name(), s.tex.Target(), crossW, crossH, crossFrame); err == nil {
			gl.Finish() // the pattern is complete before anyone can open it
		}
	})
	if err != nil {
		return err
	}
	kmt, err := c.Create(s.img.Allocation(), fd, privateData)
	if err != nil {
		return err
	}
	if name := os.Getenv("GLB_NAME"); name != "" {
		if _, err := c.Share(kmt, bridge.AccessRead, name); err != nil {
			return err
		}
	}
	fmt.Printf("KMT %#x\n", uint32(kmt))
	for in.Scan() {
		if in.Text() == "exit" {
			return nil
		}
	}
	return nil
}

// consumer opens the resource by KMT handle or name and checks every
// texel, in its own GL context (the wined3d role in another process) or
// in its own Vulkan device (the DXVK role). On "read" it checks again.
func consumer(in *bufio.Scanner, vulkan bool) error {
	c, err := broker.Dial(os.Getenv("GLB_SOCK"))
	if err != nil {
		return err
	}
	defer c.Close()
	var res broker.Resource
	if kmt := os.Getenv("GLB_KMT"); kmt != "" {
		v, err := strconv.ParseUint(kmt, 0, 32)
		if err != nil {
			return err
		}
		res, err = c.OpenKMT(bridge.Handle(v))
		if err != nil {
			return err
		}
	} else if res, err = c.OpenName(os.Getenv("GLB_NAME"), bridge.AccessRead); err != nil {
		return err
	}
	if !bytes.Equal(res.Data, privateData) {
		unix.Close(res.FD)
		return fmt.Errorf("private data %q, want %q", res.Data, privateData)
	}
	a := res.Allocation
	var read func() ([]byte, error)
	if vulkan {
		dev, err := helperdev.Open(helperdev.Config{Device: bridge.DeviceID{Driver: a.Device.Driver, Device: a.Device.Device}, Peer: "allocation record"})
		if err != nil {
			unix.Close(res.FD)
			return err
		}
		defer dev.Close()
		img, err := vkalloc.ImportImage(dev, a, res.FD)
		if err != nil {
			unix.Close(res.FD)
			return err
		}
		defer img.Close()
		read = func() ([]byte, error) { return img.ReadPixels(bridge.Subresource{}, vkalloc.Sync{}) }
	} else {
		defer unix.Close(res.FD) // ImportMemory imports a dup
		env, err := gpuenv.NewEnv("")
		if err != nil {
			return err
		}
		defer env.Close()
		mem, tex, err := importTexture(env, a, res.FD)
		if err != nil {
			return err
		}
		defer env.GL.Call(func() { tex.Close(); mem.Close() })
		read = func() (px []byte, err error) {
			env.GL.Call(func() { px, err = glutil.ReadRGBA8(tex.Name(), tex.Target(), 0, int(a.Desc.Width), int(a.Desc.Height)) })
			return px, err
		}
	}
	check := func() error {
		px, err := read()
		if err != nil {
			return err
		}
		if want := testpattern.Expected(int(a.Desc.Width), int(a.Desc.Height), crossFrame); !bytes.Equal(px, want) {
			return fmt.Errorf("texels differ from the producer's pattern at byte %d", firstDiffBytes(px, want))
		}
		fmt.Printf("OK %d texels\n", len(px)/4)
		return nil
	}
	if err := check(); err != nil {
		return err
	}
	for in.Scan() {
		switch in.Text() {
		case "read":
			if err := check(); err != nil {
				return err
			}
		case "exit":
			return nil
		}
	}
	return nil
}

func firstDiffBytes(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

const childTimeout = 60 * time.Second

// TestCrossProcess: a producer process shares; consumers in other
// processes open by KMT handle and by name, import into their own GL
// context or their own Vulkan device, and check every texel.
func TestCrossProcess(t *testing.T) {
	sock := startBroker(t)
	prod := testenv.StartChild(t, "gl-producer", "GLB_SOCK="+sock, `GLB_NAME=Local\glbridge-cross`)
	kmt := prod.Expect(t, "KMT", childTimeout)
	for _, tc := range []struct{ role, open string }{
		{"gl-consumer", "GLB_KMT=" + kmt},
		{"gl-consumer", `GLB_NAME=Local\glbridge-cross`},
		{"vk-consumer", "GLB_KMT=" + kmt},
		{"vk-consumer", `GLB_NAME=Local\glbridge-cross`},
	} {
		t.Run(tc.role+"/"+strings.SplitN(tc.open, "=", 2)[0], func(t *testing.T) {
			cons := testenv.StartChild(t, tc.role, "GLB_SOCK="+sock, tc.open)
			t.Logf("%s: %s", tc.role, cons.Expect(t, "OK", childTimeout))
			cons.Send(t, "exit")
			cons.Wait(t, childTimeout)
		})
	}
	prod.Send(t, "exit")
	prod.Wait(t, childTimeout)
}

// TestCrossProcessDeath: the producer is killed while a consumer holds the
// resource, which stays readable; then the consumer is killed, and the
// broker frees the resource.
func TestCrossProcessDeath(t *testing.T) {
	sock := startBroker(t)
	c, err := broker.Dial(sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	prod := testenv.StartChild(t, "gl-producer", "GLB_SOCK="+sock)
	kmt := prod.Expect(t, "KMT", childTimeout)
	cons := testenv.StartChild(t, "gl-consumer", "GLB_SOCK="+sock, "GLB_KMT="+kmt)
	cons.Expect(t, "OK", childTimeout)

	prod.Kill()
	waitFor(t, "the producer's references to go", func(l []broker.ResourceInfo) bool {
		return len(l) == 1 && !l[0].CreatorConnected && len(l[0].Holders) == 1 && l[0].Holders[0].PID == int32(cons.Cmd.Process.Pid)
	}, c)
	cons.Send(t, "read")
	cons.Expect(t, "OK", childTimeout)

	cons.Kill()
	waitFor(t, "the resource to be freed", func(l []broker.ResourceInfo) bool { return len(l) == 0 }, c)
}

func waitFor(t *testing.T, what string, ok func([]broker.ResourceInfo) bool, c *broker.Client) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		l, err := c.List()
		if err != nil {
			t.Fatal(err)
		}
		if ok(l) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited 10s for %s; broker lists %+v", what, l)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
