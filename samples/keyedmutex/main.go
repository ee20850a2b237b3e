// Command keyedmutex shows two processes taking turns on one shared texture
// with the broker's keyed mutex, as Direct3D programs do with
// IDXGIKeyedMutex: AcquireSync(key) waits until the texture was last
// released with key, ReleaseSync(key) hands it to whoever acquires key
// next. The broker keeps the mutex, so it orders processes and APIs alike.
//
// The GL process (the wined3d role; the default) creates the texture,
// shares it, and starts a second copy of this program as the Vulkan process
// (-role vulkan, the DXVK role), which opens it by KMT handle. Then, round
// after round:
//
//	GL:     AcquireSync(0), check the frame Vulkan wrote, draw the next, ReleaseSync(1)
//	Vulkan: AcquireSync(1), check the frame GL drew, write the next, ReleaseSync(0)
//
// Each side checks every texel of what the other wrote, so an access the
// mutex failed to order shows up as a wrong frame. handoff.KeyedMutex
// brings the GPU along: where the drivers share timeline semaphores the
// next holder's GPU work waits for the last holder's; elsewhere (Mesa 22.3)
// a holder finishes its GPU work before it releases.
//
// The broker must be running:
//
//	make build samples                 # bin/glshare and the samples
//	bin/glshare serve &
//	bin/keyedmutex -rounds 10          # -socket PATH for another broker
//
// It exits with status 0 only if both processes saw the expected frame in
// every round. If one process dies holding the mutex, the other acquires
// it "abandoned" (WAIT_ABANDONED) and reports that.
//
// The GL context comes from internal/egl, a headless EGL context for tools
// and tests; a real renderer uses its own context. The frames are
// glbridge's test pattern (internal/testpattern).
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"time"

	"github.com/go-gl/gl/v3.2-compatibility/gl"
	"golang.org/x/sys/unix"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/bridge/broker"
	"github.com/glbridge/glbridge/glimport"
	"github.com/glbridge/glbridge/handoff"
	"github.com/glbridge/glbridge/headless"
	"github.com/glbridge/glbridge/helperdev"
	"github.com/glbridge/glbridge/testpattern"
	"github.com/glbridge/glbridge/vkalloc"
)

const (
	width, height = 128, 96
	// timeout bounds each AcquireSync: a peer that stops taking its turn
	// is an error, not a hang.
	timeout = 10 * time.Second
	// The keys of the two turns.
	keyGL, keyVulkan = 0, 1
)

func main() {
	role := flag.String("role", "gl", "gl: create the texture and start the Vulkan process; vulkan: the second process")
	socket := flag.String("socket", broker.DefaultSocketPath(), "the broker's socket")
	kmt := flag.String("kmt", "", "the texture's KMT handle (role vulkan)")
	rounds := flag.Int("rounds", 5, "turns each process takes")
	flag.Parse()
	c, err := broker.Dial(*socket)
	if err != nil {
		fmt.Fprintf(os.Stderr, "keyedmutex: %v (is `glshare serve` running?)\n", err)
		os.Exit(1)
	}
	defer c.Close()
	if *role == "vulkan" {
		err = vulkanSide(c, *kmt, *rounds)
	} else {
		err = glSide(c, *socket, *rounds)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "keyedmutex %s: %v\n", *role, err)
		c.Close() // deferred calls do not run after os.Exit
		os.Exit(1)
	}
}

// glSide is the GL process: it creates and shares the texture, starts the
// Vulkan process, and draws the even frames.
func glSide(c *broker.Client, socket string, rounds int) error {
	ctx, err := headless.New(headless.Options{})
	if err != nil {
		return fmt.Errorf("no headless GL context: %w", err)
	}
	defer ctx.Close()
	var id glimport.Identity
	ctx.Call(func() {
		if err = glimport.Init(ctx.ProcAddr); err == nil {
			id, err = glimport.QueryIdentity()
		}
	})
	if err != nil {
		return err
	}
	dev, err := helperdev.Open(helperdev.Config{Device: id.Device, Peer: id.String()})
	if err != nil {
		return err
	}
	defer dev.Close()
	img, err := vkalloc.NewImage(dev, bridge.Desc{
		Dimension: bridge.DimensionTexture2D, Width: width, Height: height,
		DepthOrArraySize: 1, MipLevels: 1, SampleCount: 1,
		Format:    bridge.FormatR8G8B8A8Unorm,
		MiscFlags: 0x102, // D3D11_RESOURCE_MISC_SHARED | D3D11_RESOURCE_MISC_SHARED_KEYEDMUTEX
	})
	if err != nil {
		return err
	}
	defer img.Close()
	fd, err := img.ExportFD()
	if err != nil {
		return err
	}
	defer unix.Close(fd) // ImportMemory and CreateWithSync take copies

	// The semaphore the mutex's holders order their GPU work with; none
	// where the driver cannot share timeline semaphores.
	sem, syncs, err := handoff.NewTimelineSync(dev)
	if err != nil {
		return err
	}
	if sem != nil {
		defer sem.Close()
		defer unix.Close(syncs[0].FD)
	}
	kmt, err := c.CreateWithSync(img.Allocation(), fd, nil, syncs)
	if err != nil {
		return err
	}

	var (
		mem *glimport.Memory
		tex *glimport.Texture
		km  *handoff.KeyedMutex
	)
	defer ctx.Call(func() { // GL objects go on the GL thread, before img
		if km != nil {
			km.Close()
		}
		if tex != nil {
			tex.Close()
		}
		if mem != nil {
			mem.Close()
		}
	})
	ctx.Call(func() {
		if mem, err = glimport.ImportMemory(img.Allocation(), fd); err != nil {
			return
		}
		if tex, err = mem.Texture(img.Allocation()); err != nil {
			return
		}
		km, err = handoff.NewKeyedMutexGL(c, kmt, tex, id, syncs)
	})
	if err != nil {
		return err
	}
	fmt.Printf("gl: shared %dx%d texture as KMT %v; keyed mutex on the GPU: %s\n", width, height, kmt, km.Path())

	// The Vulkan process: this program again, in the other role.
	self, err := os.Executable()
	if err != nil {
		return err
	}
	peer := exec.Command(self, "-role", "vulkan", "-socket", socket, "-kmt", kmt.String(), "-rounds", strconv.Itoa(rounds))
	peer.Stdout, peer.Stderr = os.Stdout, os.Stderr
	if err := peer.Start(); err != nil {
		return err
	}
	defer peer.Process.Kill() // if we fail before it is done

	// Round r: frame 2r-1 from Vulkan in, frame 2r out. A last turn checks
	// Vulkan's last frame.
	for r := 0; r <= rounds; r++ {
		ctx.Call(func() { err = glTurn(km, tex, r, rounds) })
		if err != nil {
			return err
		}
	}
	if err := peer.Wait(); err != nil {
		return fmt.Errorf("the Vulkan process: %w", err)
	}
	fmt.Printf("OK: %d rounds; GL and Vulkan each checked every texel of each frame the other wrote\n", rounds)
	return nil
}

// glTurn is one turn of the GL process. It runs on the GL thread.
func glTurn(km *handoff.KeyedMutex, tex *glimport.Texture, r, rounds int) error {
	abandoned, err := km.AcquireGL(keyGL, timeout)
	if err != nil {
		return err
	}
	if abandoned {
		km.ReleaseGL(keyGL)
		return fmt.Errorf("the Vulkan process went away holding the mutex (abandoned)")
	}
	if r > 0 {
		if err = check(readTexture(tex), 2*r-1); err != nil {
			km.ReleaseGL(keyGL)
			return fmt.Errorf("round %d: %w", r, err)
		}
	}
	if r == rounds {
		fmt.Printf("gl: checked frame %d from Vulkan\n", 2*r-1)
		return km.ReleaseGL(keyGL)
	}
	if err = testpattern.Draw(tex.Name(), tex.Target(), width, height, 2*r); err != nil {
		km.ReleaseGL(keyGL)
		return err
	}
	if r > 0 {
		fmt.Printf("gl: checked frame %d from Vulkan, drew frame %d\n", 2*r-1, 2*r)
	} else {
		fmt.Printf("gl: drew frame %d\n", 2*r)
	}
	return km.ReleaseGL(keyVulkan) // Vulkan's turn
}

// vulkanSide is the Vulkan process: it opens the texture in a Vulkan device
// of its own and writes the odd frames.
func vulkanSide(c *broker.Client, kmt string, rounds int) error {
	h, err := strconv.ParseUint(kmt, 0, 32)
	if err != nil {
		return fmt.Errorf("-kmt %q: %w", kmt, err)
	}
	res, err := c.OpenKMT(bridge.Handle(h))
	if err != nil {
		return err
	}
	defer c.CloseHandle(res.Handle)
	for _, s := range res.Syncs {
		defer unix.Close(s.FD) // NewKeyedMutexVulkan imports a duplicate
	}
	dev, err := helperdev.Open(helperdev.Config{
		Device: bridge.DeviceID{Driver: res.Allocation.Device.Driver, Device: res.Allocation.Device.Device},
		Peer:   "allocation record", AppName: "glbridge keyedmutex sample",
	})
	if err != nil {
		unix.Close(res.FD)
		return err
	}
	defer dev.Close()
	img, err := vkalloc.ImportImage(dev, res.Allocation, res.FD) // takes the fd
	if err != nil {
		unix.Close(res.FD)
		return err
	}
	defer img.Close()
	km, err := handoff.NewKeyedMutexVulkan(c, res.Handle, dev, res.Syncs)
	if err != nil {
		return err
	}
	defer km.Close()

	for r := range rounds {
		sync, abandoned, err := km.AcquireVulkan(keyVulkan, timeout)
		if err != nil {
			return err
		}
		if abandoned {
			km.ReleaseVulkan(keyGL, nil)
			return fmt.Errorf("the GL process went away holding the mutex (abandoned)")
		}
		// Two operations in one turn: the first waits for GL's work, the
		// last signals what GL's next turn waits for.
		px, err := img.ReadPixels(bridge.Subresource{}, vkalloc.Sync{Wait: sync.Wait})
		if err == nil {
			err = check(px, 2*r)
		}
		if err == nil {
			err = img.WritePixels(bridge.Subresource{}, testpattern.Expected(width, height, 2*r+1), vkalloc.Sync{Signal: sync.Signal})
		}
		if err == nil {
			fmt.Printf("vulkan: checked frame %d from GL, wrote frame %d\n", 2*r, 2*r+1)
		}
		if relErr := km.ReleaseVulkan(keyGL, err); err == nil { // GL's turn
			err = relErr
		}
		if err != nil {
			return fmt.Errorf("round %d: %w", r, err)
		}
	}
	return nil
}

// readTexture reads level 0 of the RGBA8 texture with glGetTexImage (nil
// on a GL error, which check reports). It runs on the GL thread.
func readTexture(tex *glimport.Texture) []byte {
	px := make([]byte, width*height*4)
	gl.BindTexture(tex.Target(), tex.Name())
	gl.PixelStorei(gl.PACK_ALIGNMENT, 1)
	gl.GetTexImage(tex.Target(), 0, gl.RGBA, gl.UNSIGNED_BYTE, gl.Ptr(px))
	gl.BindTexture(tex.Target(), 0)
	if gl.GetError() != gl.NO_ERROR {
		return nil
	}
	return px
}

// check reports whether px is frame of the test pattern, and if not, the
// first texel that differs.
func check(px []byte, frame int) error {
	want := testpattern.Expected(width, height, frame)
	if len(px) != len(want) {
		return fmt.Errorf("read %d bytes of frame %d, want %d", len(px), frame, len(want))
	}
	for i := 0; i < len(px); i += 4 {
		if [4]byte(px[i:i+4]) != [4]byte(want[i:i+4]) {
			return fmt.Errorf("frame %d: texel (%d,%d) is %v, want %v", frame, i/4%width, i/4/width, px[i:i+4], want[i:i+4])
		}
	}
	return nil
}
