package share_test

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/bridge/broker"
	"github.com/glbridge/glbridge/internal/testenv"
	"github.com/glbridge/glbridge/share"
	"github.com/glbridge/glbridge/testpattern"
)

const (
	fenceFrames = 500
	// fenceRewind is the frame before which the producer lowers the
	// fence, while the consumer waits for a value above the lowered one.
	fenceRewind  = 250
	fenceLowered = 3
	fenceTimeout = 20 * time.Second
)

var fenceDesc = desc2D(ppW, ppH, bridge.FormatR8G8B8A8Unorm)

// fencePath names a fence's path as the children print it.
func fencePath(f *share.Fence) string {
	if f.Timeline() {
		return "timeline"
	}
	return "broker"
}

// fenceProducerGL is the D3D11-style process: it draws frame n into a
// shared texture and signals 2n+1 on the fence it created and named
// (GLB_FENCE_NAME); before frame n > 0 it waits for the consumer's 2n.
// Before frame fenceRewind it lowers the fence to fenceLowered, which
// must wake nobody, and goes on with 2n+1.
func fenceProducerGL(in *bufio.Scanner) error {
	return asGLChild(func(e *glEnv, c *broker.Client) error {
		var (
			r   *share.GLResource
			f   *share.Fence
			kmt bridge.Handle
			err error
		)
		e.ctx.Call(func() {
			if r, err = e.g.Create(fenceDesc); err != nil {
				return
			}
			if kmt, err = r.Share(c, nil); err != nil {
				return
			}
			f, err = e.g.CreateFence(c, 0)
		})
		defer e.ctx.Call(func() {
			if f != nil {
				f.Close()
			}
			if r != nil {
				r.Close()
			}
		})
		if err != nil {
			return err
		}
		if _, err := c.Share(f.KMT(), bridge.AccessGenericAll, os.Getenv("GLB_FENCE_NAME")); err != nil {
			return err
		}
		fmt.Printf("KMT %#x path=%s fence=%s\n", uint32(kmt), r.Path(), fencePath(f))
		for n := range fenceFrames {
			if n > 0 {
				var werr error
				e.ctx.Call(func() { werr = f.WaitGL(uint64(2*n), r) })
				if werr != nil {
					return fmt.Errorf("frame %d: %w", n, werr)
				}
			}
			if n == fenceRewind {
				// The consumer has read frame n-1 and waits for 2n+1.
				if err := f.Signal(fenceLowered); err != nil {
					return err
				}
				if v, err := f.Value(); err != nil || v != fenceLowered {
					return fmt.Errorf("after lowering the fence to %d it reads %d (%v)", fenceLowered, v, err)
				}
				fmt.Printf("LOWERED to %d at frame %d\n", fenceLowered, n)
			}
			e.ctx.Call(func() {
				if err = r.BeginAccess(bridge.AccessReadWrite); err != nil {
					return
				}
				name, target := r.Texture()
				err = testpattern.Draw(name, target, ppW, ppH, n)
				if eerr := r.EndAccess(); err == nil {
					err = eerr
				}
				if err == nil {
					err = f.SignalGL(uint64(2*n+1), r)
				}
			})
			if err != nil {
				return fmt.Errorf("frame %d: %w", n, err)
			}
		}
		if err := f.Wait(2*fenceFrames, fenceTimeout); err != nil {
			return err
		}
		// A GL-only producer had its fence on the GPU without Vulkan.
		if err := checkVulkanUnused(optsFromEnv()); err != nil {
			return err
		}
		fmt.Printf("DONE %d frames\n", fenceFrames)
		return nil
	})
}

// fenceConsumerVulkan is the D3D12-style process: it opens the texture by
// KMT handle and the fence by name, and for each frame n waits for 2n+1,
// checks every texel of frame n and signals 2n+2.
func fenceConsumerVulkan(in *bufio.Scanner) error {
	return asVulkanChild(func(v *share.Vulkan, c *broker.Client) error {
		res, err := openFromEnv(c)
		if err != nil {
			return err
		}
		r, err := v.OpenShared(c, res)
		closeResourceFDs(res)
		if err != nil {
			return err
		}
		defer r.Close()
		f, err := v.OpenFenceByName(c, os.Getenv("GLB_FENCE_NAME"), bridge.AccessGenericAll)
		if err != nil {
			return err
		}
		defer f.Close()
		if _, ok := f.VulkanSemaphore(); ok != f.Timeline() {
			return fmt.Errorf("VulkanSemaphore: ok %v on a fence whose Timeline is %v", ok, f.Timeline())
		}
		fmt.Printf("OPEN path=%s fence=%s\n", r.Path(), fencePath(f))
		var rebased uint64
		for n := range fenceFrames {
			if err := f.Wait(uint64(2*n+1), fenceTimeout); err != nil {
				return fmt.Errorf("frame %d: %w", n, err)
			}
			if err := r.BeginAccess(bridge.AccessRead); err != nil {
				return err
			}
			px, err := r.ReadPixels(bridge.Subresource{})
			if eerr := r.EndAccess(); err == nil {
				err = eerr
			}
			if err != nil {
				return fmt.Errorf("frame %d: %w", n, err)
			}
			if want := testpattern.Expected(ppW, ppH, n); !bytes.Equal(px, want) {
				got, ok := testpattern.FrameOf(px, ppW, ppH)
				return fmt.Errorf("frame %d: texels differ at byte %d (the stamp reads frame %d, clean=%v)", n, firstDiff(px, want), got, ok)
			}
			// D3D12's consumer signals on its queue (ID3D12CommandQueue::
			// Signal) after its copy; every third frame it signals from
			// the CPU (ID3D12Fence::Signal) instead.
			signal := f.SignalVulkan
			if n%3 == 2 {
				signal = f.Signal
			}
			if err := signal(uint64(2*n + 2)); err != nil {
				return fmt.Errorf("frame %d: %w", n, err)
			}
			// The semaphore's value is the fence's plus what the
			// lowering before frame fenceRewind took off: 0 before it, one
			// offset above 0 from then on (the frame before races it). The
			// broker path has no offset.
			p, err := f.VulkanValue(uint64(2*n + 2))
			if err != nil {
				return fmt.Errorf("frame %d: %w", n, err)
			}
			switch off := p - uint64(2*n+2); {
			case !f.Timeline() || n < fenceRewind-1:
				if off != 0 {
					return fmt.Errorf("frame %d: VulkanValue = %d, want %d", n, p, 2*n+2)
				}
			case n >= fenceRewind:
				if rebased == 0 {
					rebased = off
				}
				if off != rebased || off == 0 || off > uint64(2*fenceRewind) {
					return fmt.Errorf("frame %d: VulkanValue adds %d, want the lowering's offset (%d, in 1..%d)", n, off, rebased, 2*fenceRewind)
				}
			}
		}
		fmt.Printf("DONE %d frames\n", fenceFrames)
		return nil
	})
}

// TestFencePingPong: a GL producer (D3D11's role) and a Vulkan consumer
// (D3D12's) take turns for 500 frames through a shared fence that the
// consumer opens by name, the producer signalling 2n+1 when frame n is
// drawn and the consumer 2n+2 when it has checked every texel of it.
// The consumer signals on its Vulkan queue (SignalVulkan), every third
// frame from the CPU. Once, the producer lowers the fence while the
// consumer waits for a higher value; the consumer must not wake (it would read a stale frame)
// and both go on. On drivers with timeline semaphore fds (GL_EXT_semaphore_fd
// and GL_NV_timeline_semaphore, and Vulkan's) the fence is a timeline
// semaphore; without them (Mesa 22.3) the broker keeps its value, and the
// "timeline" subtest is skipped, saying why. GLBRIDGE_FORCE_FALLBACK=1
// in the test's environment forces the broker path where both exist.
func TestFencePingPong(t *testing.T) {
	e, err := newGL(share.Options{})
	if err != nil {
		t.Skipf("no GL: %v", err)
	}
	id := e.g.Identity()
	e.close()
	timeline := id.SemaphoreFD && id.TimelineSemaphore && os.Getenv("GLBRIDGE_FORCE_FALLBACK") != "1"
	for _, tc := range []struct {
		name string
		want string
		// producer are the producer's Options: "service" is a GL-only
		// process whose resource and fence semaphore the broker allocates.
		producer share.Options
	}{
		{"broker", "broker", share.Options{}},
		{"timeline", "timeline", share.Options{}},
		// A GL-only process: its fence's semaphore is the broker's where GL
		// imports timeline semaphores, else the broker keeps the value.
		{"service", map[bool]string{true: "timeline", false: "broker"}[timeline], service(share.Options{})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var env []string
			switch {
			case tc.name == "service":
			case tc.want == "broker":
				env = append(env, "GLBRIDGE_FORCE_FALLBACK=1")
			case !timeline:
				t.Skipf("GL %q lacks GL_EXT_semaphore_fd (%v) or GL_NV_timeline_semaphore (%v), or GLBRIDGE_FORCE_FALLBACK=1: no timeline semaphore fds to share a fence through",
					id.Renderer, id.SemaphoreFD, id.TimelineSemaphore)
			}
			sock := startBroker(t)
			name := fmt.Sprintf("Local\\glbridge fence test %d %s", os.Getpid(), tc.name)
			start := time.Now()
			pr := testenv.StartChild(t, "fence-gl", append(env, "GLB_SOCK="+sock, "GLB_FENCE_NAME="+name, optsEnv(tc.producer))...)
			line := pr.Expect(t, "KMT", childTimeout)
			if !strings.Contains(line, "fence="+tc.want) {
				t.Fatalf("producer: %q, want fence=%s", line, tc.want)
			}
			co := testenv.StartChild(t, "fence-vk", append(env, "GLB_SOCK="+sock, "GLB_KMT="+strings.Fields(line)[0], "GLB_FENCE_NAME="+name)...)
			if line := co.Expect(t, "OPEN", childTimeout); !strings.Contains(line, "fence="+tc.want) {
				t.Fatalf("consumer: %q, want fence=%s", line, tc.want)
			}
			pr.Expect(t, "LOWERED", childTimeout)
			co.Expect(t, "DONE", childTimeout)
			pr.Expect(t, "DONE", childTimeout)
			co.Wait(t, childTimeout)
			pr.Wait(t, childTimeout)
			t.Logf("%d frames through a %s fence in %v", fenceFrames, tc.want, time.Since(start).Round(time.Millisecond))
		})
	}
}
