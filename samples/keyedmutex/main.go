// Command keyedmutex shows two processes taking turns on one shared texture
// with the broker's keyed mutex, as Direct3D programs do with
// IDXGIKeyedMutex: AcquireSync(key) waits until the texture was last
// released with key, ReleaseSync(key) hands it to whoever acquires key
// next. The broker keeps the mutex, so it orders processes and APIs alike.
//
// The GL process (the wined3d role; the default) creates the texture with
// package share, shares it, and starts a second copy of this program as
// the Vulkan process (-role vulkan, the DXVK role), which opens it by KMT
// handle. Then, round after round:
//
//	GL:     AcquireSync(0), check the frame Vulkan wrote, draw the next, ReleaseSync(1)
//	Vulkan: AcquireSync(1), check the frame GL drew, write the next, ReleaseSync(0)
//
// Each side checks every texel of what the other wrote, so an access the
// mutex failed to order shows up as a wrong frame. AcquireSync and
// ReleaseSync bring the GPU along: where the drivers share timeline
// semaphores the next holder's GPU work waits for the last holder's;
// elsewhere (Mesa 22.3) a holder's work is finished before it releases,
// and on a copy path the texture is copied in and out inside the mutex.
//
// The broker must be running:
//
//	make build samples                 # bin/glshare and the samples
//	bin/glshare serve &
//	bin/keyedmutex -rounds 10          # -socket PATH for another broker
//
// Each process prints a line per turn ("gl: checked frame 1 from Vulkan,
// drew frame 2", "vulkan: checked frame 2 from GL, wrote frame 3"), and
// the GL process "OK: N rounds" at the end. It exits with status 0 only if
// both processes saw the expected frame in every round, and with status 1
// otherwise (no broker, a wrong frame, a peer that stopped taking turns).
// If one process dies holding the mutex, the other acquires it abandoned
// (WAIT_ABANDONED) and reports that.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/bridge/broker"
	"github.com/glbridge/glbridge/samples/kit"
	"github.com/glbridge/glbridge/share"
	"github.com/glbridge/glbridge/testpattern"
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
	if *role == "vulkan" {
		err = vulkanSide(c, *kmt, *rounds)
	} else {
		err = kit.OnGLThread(func(getProcAddress kit.ProcAddr) error { return glSide(getProcAddress, c, *socket, *rounds) })
	}
	c.Close() // before os.Exit, which runs no deferred calls
	if err != nil {
		fmt.Fprintf(os.Stderr, "keyedmutex %s: %v\n", *role, err)
		os.Exit(1)
	}
}

// keyedMutex is IDXGIKeyedMutex, as share.GLResource and
// share.VulkanResource both offer it.
type keyedMutex interface {
	AcquireSync(key uint64, timeout time.Duration) (abandoned bool, err error)
	ReleaseSync(key uint64) error
}

// turn acquires km with key, runs work and releases km with next, also
// when work fails: a process that keeps the mutex leaves the other waiting.
func turn(km keyedMutex, key, next uint64, work func() error) error {
	abandoned, err := km.AcquireSync(key, timeout)
	if err != nil {
		return err
	}
	if abandoned {
		err = errors.New("the other process went away holding the mutex (abandoned)")
	} else {
		err = work()
	}
	if relErr := km.ReleaseSync(next); err == nil {
		err = relErr
	}
	return err
}

// glSide is the GL process: it creates and shares the texture, starts the
// Vulkan process, and draws the even frames. It runs on the GL thread.
func glSide(getProcAddress kit.ProcAddr, c *broker.Client, socket string, rounds int) error {
	g, err := share.NewGL(getProcAddress, share.Options{})
	if err != nil {
		return err
	}
	defer g.Close()
	desc := bridge.Texture2D(width, height, bridge.FormatR8G8B8A8Unorm)
	desc.MiscFlags = 0x102 // D3D11_RESOURCE_MISC_SHARED | D3D11_RESOURCE_MISC_SHARED_KEYEDMUTEX
	res, err := g.Create(desc)
	if err != nil {
		return err
	}
	defer res.Close()
	kmt, err := res.Share(c, nil) // the keyed mutex comes with it, free for key 0
	if err != nil {
		return err
	}
	fmt.Printf("gl: shared %dx%d texture as KMT %v (%s)\n", width, height, kmt, kit.Describe(res.Path(), res.Reason()))

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
	// Vulkan's last frame and keeps the texture.
	tex, target := res.Texture()
	for r := 0; r <= rounds; r++ {
		next := uint64(keyVulkan)
		if r == rounds {
			next = keyGL
		}
		if err := turn(res, keyGL, next, func() error { return glTurn(tex, target, r, rounds) }); err != nil {
			return fmt.Errorf("round %d: %w", r, err)
		}
	}
	if err := peer.Wait(); err != nil {
		return fmt.Errorf("the Vulkan process: %w", err)
	}
	fmt.Printf("OK: %d rounds; GL and Vulkan each checked every texel of each frame the other wrote\n", rounds)
	return nil
}

// glTurn is GL's work in round r: check the frame Vulkan wrote (none
// before the first round) and draw the next (none after the last). It runs
// on the GL thread, holding the mutex.
func glTurn(tex, target uint32, r, rounds int) error {
	if r > 0 {
		px, err := kit.ReadTexture(tex, target, width, height)
		if err == nil {
			err = kit.Check(px, width, height, 2*r-1)
		}
		if err != nil {
			return err
		}
	}
	if r == rounds {
		fmt.Printf("gl: checked frame %d from Vulkan\n", 2*r-1)
		return nil
	}
	if err := testpattern.Draw(tex, target, width, height, 2*r); err != nil {
		return err
	}
	if r > 0 {
		fmt.Printf("gl: checked frame %d from Vulkan, drew frame %d\n", 2*r-1, 2*r)
	} else {
		fmt.Printf("gl: drew frame %d\n", 2*r)
	}
	return nil
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
	defer func() { // OpenShared keeps duplicates of the fds an open hands over
		unix.Close(res.FD)
		for _, s := range res.Syncs {
			unix.Close(s.FD)
		}
	}()
	// nil: the first device that exports memory, standing for the
	// renderer's own (share.NewVulkanOn takes that).
	v, err := share.NewVulkan(nil, share.Options{})
	if err != nil {
		return err
	}
	defer v.Close()
	vres, err := v.OpenShared(c, res) // with the keyed mutex, through res.Handle
	if err != nil {
		return err
	}
	defer vres.Close()

	for r := range rounds {
		err := turn(vres, keyVulkan, keyGL, func() error {
			px, err := vres.ReadPixels(bridge.Subresource{})
			if err == nil {
				err = kit.Check(px, width, height, 2*r)
			}
			if err == nil {
				err = vres.WritePixels(bridge.Subresource{}, testpattern.Expected(width, height, 2*r+1))
			}
			if err == nil {
				fmt.Printf("vulkan: checked frame %d from GL, wrote frame %d\n", 2*r, 2*r+1)
			}
			return err
		})
		if err != nil {
			return fmt.Errorf("round %d: %w", r, err)
		}
	}
	return nil
}
