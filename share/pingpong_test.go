package share_test

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/bridge/broker"
	"github.com/glbridge/glbridge/internal/glutil"
	"github.com/glbridge/glbridge/internal/testenv"
	"github.com/glbridge/glbridge/share"
	"github.com/glbridge/glbridge/testpattern"
)

const (
	ppW, ppH   = 64, 32
	ppFrames   = 200
	keyTimeout = 20 * time.Second
)

// pingPongSide is one process of the ping-pong, GL or Vulkan: the creator
// (GLB_CREATE=1) acquires key 0, the opener key 1; each checks the frame
// the other wrote and writes the next, then releases the other's key.
type pingPongSide struct {
	creator bool
	// acquire acquires key; check reads the texels and compares them with
	// want; write writes frame; release releases key.
	acquire func(key uint64) error
	read    func() ([]byte, error)
	write   func(frame int) error
	release func(key uint64) error
}

func (p pingPongSide) run() error {
	mine, theirs, first := uint64(1), uint64(0), 1
	if p.creator {
		mine, theirs, first = 0, 1, 0
	}
	check := func(frame int) error {
		px, err := p.read()
		if err != nil {
			return err
		}
		if want := testpattern.Expected(ppW, ppH, frame); !bytes.Equal(px, want) {
			got, ok := testpattern.FrameOf(px, ppW, ppH)
			return fmt.Errorf("frame %d: texels differ at byte %d (the stamp reads frame %d, clean=%v)", frame, firstDiff(px, want), got, ok)
		}
		return nil
	}
	round := func(f int) error {
		if err := p.acquire(mine); err != nil {
			return err
		}
		err := func() error {
			if f > 0 {
				if err := check(f - 1); err != nil {
					return err
				}
			}
			if f < ppFrames {
				return p.write(f)
			}
			return nil
		}()
		if rerr := p.release(theirs); err == nil {
			err = rerr
		}
		return err
	}
	for f := first; f < ppFrames; f += 2 {
		if err := round(f); err != nil {
			return err
		}
	}
	if p.creator {
		// The last frame is the opener's: check it.
		if err := round(ppFrames); err != nil {
			return err
		}
	}
	fmt.Printf("DONE %d frames\n", ppFrames)
	return nil
}

var ppDesc = func() bridge.Desc {
	d := desc2D(ppW, ppH, bridge.FormatR8G8B8A8Unorm)
	d.MiscFlags = 0x102 // D3D11_RESOURCE_MISC_SHARED | SHARED_KEYEDMUTEX
	return d
}()

// createOrOpen is how either side of the ping-pong gets the resource: the
// creator creates and shares it and prints its handle, the other opens
// what its parent names; both print the path they got.
func createOrOpen[R interface {
	Share(*broker.Client, []byte) (bridge.Handle, error)
	Path() share.Path
	Close() error
}](creator bool, c *broker.Client, create func(bridge.Desc) (R, error), open func(*broker.Client, broker.Resource) (R, error)) (R, error) {
	var none R
	if creator {
		r, err := create(ppDesc)
		if err != nil {
			return none, err
		}
		kmt, err := r.Share(c, nil)
		if err != nil {
			r.Close()
			return none, err
		}
		fmt.Printf("KMT %#x path=%s\n", uint32(kmt), r.Path())
		return r, nil
	}
	res, err := openFromEnv(c)
	if err != nil {
		return none, err
	}
	r, err := open(c, res)
	closeResourceFDs(res)
	if err != nil {
		return none, err
	}
	fmt.Printf("OPEN path=%s\n", r.Path())
	return r, nil
}

// pingPongGL is the GL process of the ping-pong.
func pingPongGL(in *bufio.Scanner) error {
	return asGLChild(func(e *glEnv, c *broker.Client) error {
		var err error
		creator := os.Getenv("GLB_CREATE") == "1"
		var r *share.GLResource
		e.ctx.Call(func() { r, err = createOrOpen(creator, c, e.g.Create, e.g.OpenShared) })
		if err != nil {
			return err
		}
		defer e.ctx.Call(func() { r.Close() })
		if err := checkVulkanUnused(optsFromEnv()); err != nil {
			return err
		}
		return pingPongSide{
			creator: creator,
			acquire: func(key uint64) (err error) {
				e.ctx.Call(func() { _, err = r.AcquireSync(key, keyTimeout) })
				return err
			},
			read: func() (px []byte, err error) {
				e.ctx.Call(func() {
					name, target := r.Texture()
					px, err = glutil.ReadRGBA8(name, target, 0, ppW, ppH)
				})
				return px, err
			},
			write: func(frame int) (err error) {
				e.ctx.Call(func() {
					name, target := r.Texture()
					err = testpattern.Draw(name, target, ppW, ppH, frame)
				})
				return err
			},
			release: func(key uint64) (err error) {
				e.ctx.Call(func() { err = r.ReleaseSync(key) })
				return err
			},
		}.run()
	})
}

// pingPongVulkan is the Vulkan-only process of the ping-pong.
func pingPongVulkan(in *bufio.Scanner) error {
	return asVulkanChild(func(v *share.Vulkan, c *broker.Client) error {
		creator := os.Getenv("GLB_CREATE") == "1"
		r, err := createOrOpen(creator, c, v.Create, v.OpenShared)
		if err != nil {
			return err
		}
		defer r.Close()
		// One access is a read and a write: the read waits for the previous
		// holder's work, the write is what the release hands on.
		return pingPongSide{
			creator: creator,
			acquire: func(key uint64) (err error) {
				_, err = r.AcquireSync(key, keyTimeout)
				return err
			},
			read: func() ([]byte, error) { return r.ReadPixels(bridge.Subresource{}) },
			write: func(frame int) error {
				return r.WritePixels(bridge.Subresource{}, testpattern.Expected(ppW, ppH, frame))
			},
			release: r.ReleaseSync,
		}.run()
	})
}

// TestKeyedMutexPingPong: two processes take turns through the keyed
// mutex for 200 frames, each checking every texel of the frame the other
// wrote (its stamp included), on every path: zero-copy GL and Vulkan; the
// copy path forced on both; a Vulkan-only process and a GL-only process
// sharing host memory, whichever creates it; a GL refused the
// memory-object extension sharing with a zero-copy GL; and a GL-only
// process whose memory the service allocates (Vulkan memory, and host
// memory for a GL refused the extension), with a Vulkan process creating
// or opening.
func TestKeyedMutexPingPong(t *testing.T) {
	force, novk, deny := share.Options{ForceCopy: true}, share.WithNoVulkan(share.Options{}), share.WithDenyMemoryObject(share.Options{})
	for _, tc := range []struct {
		name                  string
		creator, opener       string
		cOpts, oOpts          share.Options
		wantCreator, wantOpen share.Path
	}{
		{"zero-copy", "pp-gl", "pp-vk", share.Options{}, share.Options{}, share.ZeroCopy, share.ZeroCopy},
		{"forced-copy", "pp-gl", "pp-vk", force, force, share.CopyVulkan, share.CopyVulkan},
		{"vulkan-only-creates/gl-only", "pp-vk", "pp-gl", force, novk, share.CopyHost, share.CopyHost},
		{"gl-only-creates/vulkan-only", "pp-gl", "pp-vk", novk, share.Options{}, share.CopyHost, share.CopyHost},
		{"deny-memory-object/zero-copy", "pp-gl", "pp-gl", deny, share.Options{}, share.CopyVulkan, share.ZeroCopy},
		{"service-creates/vulkan", "pp-gl", "pp-vk", service(share.Options{}), share.Options{}, share.ZeroCopy, share.ZeroCopy},
		{"vulkan-creates/service", "pp-vk", "pp-gl", share.Options{}, service(share.Options{}), share.ZeroCopy, share.ZeroCopy},
		{"service-host-creates/vulkan", "pp-gl", "pp-vk", service(deny), share.Options{}, share.CopyHost, share.CopyHost},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sock := startBroker(t)
			start := time.Now()
			cr := testenv.StartChild(t, tc.creator, "GLB_SOCK="+sock, "GLB_CREATE=1", optsEnv(tc.cOpts))
			line := cr.Expect(t, "KMT", childTimeout)
			expectPath(t, "creator", line, tc.wantCreator)
			op := testenv.StartChild(t, tc.opener, "GLB_SOCK="+sock, "GLB_KMT="+strings.Fields(line)[0], optsEnv(tc.oOpts))
			expectPath(t, "opener", op.Expect(t, "OPEN", childTimeout), tc.wantOpen)
			// The creator gave the resource a keyed-mutex object, which
			// its descriptor names and the opener acquires through: the
			// resource's reference, the creator's and the opener's.
			obs, err := broker.Dial(sock)
			if err != nil {
				t.Fatal(err)
			}
			defer obs.Close()
			kmt, _ := strconv.ParseUint(strings.Fields(line)[0], 0, 32)
			ms, err := obs.ListKeyedMutexes()
			if err != nil || len(ms) != 1 || ms[0].Resource != bridge.Handle(kmt) || ms[0].Refs != 3 || ms[0].Sync == 0 {
				t.Fatalf("keyed-mutex objects %+v, %v; want one of resource %#x, with a sync object, held by the resource, its creator and the opener", ms, err, kmt)
			}
			op.Expect(t, "DONE", childTimeout)
			cr.Expect(t, "DONE", childTimeout)
			op.Wait(t, childTimeout)
			cr.Wait(t, childTimeout)
			t.Logf("%d frames, %s (%v) and %s (%v), in %v", ppFrames, tc.creator, tc.wantCreator, tc.opener, tc.wantOpen, time.Since(start).Round(time.Millisecond))
		})
	}
}
