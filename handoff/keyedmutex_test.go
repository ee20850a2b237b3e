package handoff_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/bridge/broker"
	"github.com/glbridge/glbridge/glimport"
	"github.com/glbridge/glbridge/handoff"
	"github.com/glbridge/glbridge/helperdev"
	"github.com/glbridge/glbridge/internal/glutil"
	"github.com/glbridge/glbridge/internal/gpuenv"
	"github.com/glbridge/glbridge/internal/testenv"
	"github.com/glbridge/glbridge/internal/testenv/testbroker"
	"github.com/glbridge/glbridge/testpattern"
	"github.com/glbridge/glbridge/vkalloc"
)

func TestMain(m *testing.M) {
	testenv.Dispatch(map[string]testenv.Body{
		"gl-side": glSide,
		"vk-side": vkSide,
	})
	os.Exit(m.Run())
}

const keyTimeout = 20 * time.Second

func startBroker(t *testing.T) string { return testbroker.Start(t) }

func envInt(name string) int {
	v, _ := strconv.Atoi(os.Getenv(name))
	return v
}

// glSide is the GL process: it creates the resource (with a timeline
// semaphore where the driver shares them), then plays its part of the
// ping-pong: with key 0 it checks the frame Vulkan wrote and writes the
// next. With GLB_HOLD it acquires key 0, says HELD and waits to be killed.
func glSide(in *bufio.Scanner) error {
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
	img, err := vkalloc.NewImage(env.Dev, bridge.Desc{Dimension: bridge.DimensionTexture2D, Width: w, Height: h, DepthOrArraySize: 1, MipLevels: 1, SampleCount: 1, Format: bridge.FormatR8G8B8A8Unorm, MiscFlags: 0x102 /* SHARED | SHARED_KEYEDMUTEX */})
	if err != nil {
		return err
	}
	defer img.Close()
	sem, syncs, err := handoff.NewTimelineSync(env.Dev)
	if err != nil {
		return err
	}
	if sem != nil {
		defer sem.Close()
		defer unix.Close(syncs[0].FD)
	}
	fd, err := img.ExportFD()
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	kmt, err := c.CreateWithSync(img.Allocation(), fd, nil, syncs)
	if err != nil {
		return err
	}
	var (
		mem *glimport.Memory
		tex *glimport.Texture
		km  *handoff.KeyedMutex
	)
	env.GL.Call(func() {
		if mem, err = glimport.ImportMemory(img.Allocation(), fd); err != nil {
			return
		}
		if tex, err = mem.Texture(img.Allocation()); err != nil {
			return
		}
		km, err = handoff.NewKeyedMutexGL(c, kmt, tex, env.ID, syncs)
	})
	if err != nil {
		return err
	}
	defer env.GL.Call(func() { km.Close(); tex.Close(); mem.Close() })
	fmt.Printf("KMT %#x %s\n", uint32(kmt), km.Path())

	if os.Getenv("GLB_HOLD") != "" {
		env.GL.Call(func() { _, err = km.AcquireGL(0, keyTimeout) })
		if err != nil {
			return err
		}
		fmt.Println("HELD")
		for in.Scan() {
		}
		return nil
	}

	rounds := envInt("GLB_ROUNDS")
	for r := range rounds {
		env.GL.Call(func() {
			var abandoned bool
			if abandoned, err = km.AcquireGL(0, keyTimeout); err != nil {
				return
			}
			if abandoned {
				err = errors.New("mutex abandoned unexpectedly")
				return
			}
			if r > 0 {
				var px []byte
				if px, err = glutil.ReadRGBA8(tex.Name(), tex.Target(), 0, w, h); err != nil {
					return
				}
				if err = checkPattern(px, 2*r-1); err != nil {
					return
				}
			}
			if err = testpattern.Draw(tex.Name(), tex.Target(), w, h, 2*r); err != nil {
				return
			}
			err = km.ReleaseGL(1)
		})
		if err != nil {
			return fmt.Errorf("round %d: %w", r, err)
		}
	}
	// The last frame Vulkan wrote.
	env.GL.Call(func() {
		if _, err = km.AcquireGL(0, keyTimeout); err != nil {
			return
		}
		var px []byte
		if px, err = glutil.ReadRGBA8(tex.Name(), tex.Target(), 0, w, h); err == nil {
			err = checkPattern(px, 2*rounds-1)
		}
		if e := km.ReleaseGL(0); err == nil {
			err = e
		}
	})
	if err != nil {
		return err
	}
	fmt.Printf("DONE %d\n", rounds)
	for in.Scan() {
		if in.Text() == "exit" {
			break
		}
	}
	return nil
}

func checkPattern(px []byte, frame int) error {
	got, ok := testpattern.FrameOf(px, w, h)
	if !ok || got != frame {
		return fmt.Errorf("read frame number %d (clean %v), want %d", got, ok, frame)
	}
	if !bytes.Equal(px, testpattern.Expected(w, h, frame)) {
		return fmt.Errorf("frame %d partly written", frame)
	}
	return nil
}

// vkSide is the Vulkan process (the DXVK role): with key 1 it checks the
// frame GL wrote and writes the next. With GLB_AFTER_ABANDON it first
// expects to inherit an abandoned mutex.
func vkSide(in *bufio.Scanner) error {
	c, err := broker.Dial(os.Getenv("GLB_SOCK"))
	if err != nil {
		return err
	}
	defer c.Close()
	kmt, err := strconv.ParseUint(os.Getenv("GLB_KMT"), 0, 32)
	if err != nil {
		return err
	}
	res, err := c.OpenKMT(bridge.Handle(kmt))
	if err != nil {
		return err
	}
	for _, s := range res.Syncs {
		defer unix.Close(s.FD)
	}
	a := res.Allocation
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
	km, err := handoff.NewKeyedMutexVulkan(c, res.Handle, dev, res.Syncs)
	if err != nil {
		return err
	}
	defer km.Close()
	fmt.Printf("OPEN %s\n", km.Path())

	if os.Getenv("GLB_AFTER_ABANDON") != "" {
		// Key 5 was never released: only abandonment can hand it over.
		sync, abandoned, err := km.AcquireVulkan(5, keyTimeout)
		if err != nil {
			return err
		}
		if !abandoned {
			km.ReleaseVulkan(5, nil)
			return errors.New("acquired key 5 without abandonment")
		}
		err = img.WritePixels(bridge.Subresource{}, testpattern.Expected(w, h, 77), sync)
		if e := km.ReleaseVulkan(6, err); err == nil {
			err = e
		}
		if err != nil {
			return err
		}
		sync, _, err = km.AcquireVulkan(6, keyTimeout)
		if err != nil {
			return err
		}
		px, err := img.ReadPixels(bridge.Subresource{}, sync)
		if e := km.ReleaseVulkan(6, err); err == nil {
			err = e
		}
		if err != nil {
			return err
		}
		if err := checkPattern(px, 77); err != nil {
			return fmt.Errorf("after abandonment: %w", err)
		}
		fmt.Println("ABANDONED-OK")
		return nil
	}

	// A key nobody will release times out with the timeout error.
	start := time.Now()
	if _, _, err := km.AcquireVulkan(42, 150*time.Millisecond); !errors.Is(err, bridge.ErrTimeout) {
		return fmt.Errorf("AcquireSync of an unreleased key: %v, want ErrTimeout", err)
	}
	if d := time.Since(start); d < 140*time.Millisecond || d > 5*time.Second {
		return fmt.Errorf("the 150ms timeout took %v", d)
	}
	fmt.Println("TIMEOUT-OK")

	rounds := envInt("GLB_ROUNDS")
	for r := range rounds {
		sync, abandoned, err := km.AcquireVulkan(1, keyTimeout)
		if err != nil {
			return fmt.Errorf("round %d: %w", r, err)
		}
		if abandoned {
			return fmt.Errorf("round %d: mutex abandoned unexpectedly", r)
		}
		px, err := img.ReadPixels(bridge.Subresource{}, sync)
		if err == nil {
			err = checkPattern(px, 2*r)
		}
		if err != nil {
			km.ReleaseVulkan(1, err)
			return fmt.Errorf("round %d: %w", r, err)
		}
		// The read consumed the acquire's wait; the write needs none more.
		km.ReleaseVulkan(1, nil)
		sync, _, err = km.AcquireVulkan(1, keyTimeout)
		if err != nil {
			return err
		}
		err = img.WritePixels(bridge.Subresource{}, testpattern.Expected(w, h, 2*r+1), sync)
		if e := km.ReleaseVulkan(0, err); err == nil {
			err = e
		}
		if err != nil {
			return fmt.Errorf("round %d: %w", r, err)
		}
	}
	fmt.Printf("DONE %d\n", rounds)
	return nil
}

// TestKeyedMutexAcrossProcesses: a GL process and a Vulkan process
// alternate keys 0 -> 1 -> 0 for 500 rounds, 1000 frames in all, each
// checking that the frame the other wrote arrived whole and in order.
func TestKeyedMutexAcrossProcesses(t *testing.T) {
	sock := startBroker(t)
	const rounds = 500
	gl := testenv.StartChild(t, "gl-side", "GLB_SOCK="+sock, fmt.Sprintf("GLB_ROUNDS=%d", rounds))
	kmtPath := gl.Expect(t, "KMT", 60*time.Second)
	var kmt, path string
	fmt.Sscanf(kmtPath, "%s", &kmt)
	path = kmtPath[len(kmt):]
	vk := testenv.StartChild(t, "vk-side", "GLB_SOCK="+sock, "GLB_KMT="+kmt, fmt.Sprintf("GLB_ROUNDS=%d", rounds))
	t.Logf("GL side path:%s; Vulkan side path: %s", path, vk.Expect(t, "OPEN", 60*time.Second))
	vk.Expect(t, "TIMEOUT-OK", 60*time.Second)
	start := time.Now()
	vk.Expect(t, "DONE", 5*time.Minute)
	gl.Expect(t, "DONE", 5*time.Minute)
	t.Logf("%d rounds (%d frames) in %v", rounds, 2*rounds, time.Since(start))
	gl.Send(t, "exit")
	gl.Wait(t, 30*time.Second)
	vk.Wait(t, 30*time.Second)
}

// TestKeyedMutexAbandoned: the GL process dies (kill -9) holding the
// mutex; the Vulkan process's next acquire, of a key nobody released, is
// told the mutex was abandoned, and the resource stays usable.
func TestKeyedMutexAbandoned(t *testing.T) {
	sock := startBroker(t)
	c, err := broker.Dial(sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	gl := testenv.StartChild(t, "gl-side", "GLB_SOCK="+sock, "GLB_HOLD=1")
	var kmt string
	fmt.Sscanf(gl.Expect(t, "KMT", 60*time.Second), "%s", &kmt)
	gl.Expect(t, "HELD", 60*time.Second)
	// A third party opens it too, so the resource outlives the holder.
	k, _ := strconv.ParseUint(kmt, 0, 32)
	res, err := c.OpenKMT(bridge.Handle(k))
	if err != nil {
		t.Fatal(err)
	}
	unix.Close(res.FD)
	for _, s := range res.Syncs {
		unix.Close(s.FD)
	}
	vk := testenv.StartChild(t, "vk-side", "GLB_SOCK="+sock, "GLB_KMT="+kmt, "GLB_AFTER_ABANDON=1")
	vk.Expect(t, "OPEN", 60*time.Second)
	gl.Kill()
	vk.Expect(t, "ABANDONED-OK", 60*time.Second)
	vk.Wait(t, 30*time.Second)
}
