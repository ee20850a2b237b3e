package handoff_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/bridge/broker"
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

const (
	keyTimeout   = 20 * time.Second
	childTimeout = 60 * time.Second // for a child's set-up, lavapipe and llvmpipe included
)

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
	d := imageDesc
	d.MiscFlags = 0x102 // D3D11_RESOURCE_MISC_SHARED | SHARED_KEYEDMUTEX
	img, err := vkalloc.NewImage(env.Dev, d)
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
	mem, tex, err := env.ImportTexture(img.Allocation(), fd)
	if err != nil {
		return err
	}
	defer env.GL.Call(func() { tex.Close(); mem.Close() })
	var km *handoff.KeyedMutex
	env.GL.Call(func() { km, err = handoff.NewKeyedMutexGL(c, kmt, tex, env.ID, syncs) })
	if err != nil {
		return err
	}
	defer env.GL.Call(func() { km.Close() })
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

	// checkGL reads the texture and checks it holds frame.
	checkGL := func(frame int) error {
		px, err := glutil.ReadRGBA8(tex.Name(), tex.Target(), 0, w, h)
		if err != nil {
			return err
		}
		return checkPattern(px, frame)
	}
	rounds := envInt("GLB_ROUNDS")
	for r := range rounds {
		err := glTurn(env, km, 0, 1, func() error {
			if r > 0 {
				if err := checkGL(2*r - 1); err != nil {
					return err
				}
			}
			return testpattern.Draw(tex.Name(), tex.Target(), w, h, 2*r)
		})
		if err != nil {
			return fmt.Errorf("round %d: %w", r, err)
		}
	}
	// The last frame Vulkan wrote.
	if err := glTurn(env, km, 0, 0, func() error { return checkGL(2*rounds - 1) }); err != nil {
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

// glTurn is one GL access under the keyed mutex, on the GL thread: it
// acquires key (which must not have been abandoned), runs op and releases
// next. It returns the first error.
func glTurn(env *gpuenv.Env, km *handoff.KeyedMutex, key, next uint64, op func() error) (err error) {
	env.GL.Call(func() {
		var abandoned bool
		if abandoned, err = km.AcquireGL(key, keyTimeout); err != nil {
			return
		}
		if abandoned {
			err = fmt.Errorf("acquired key %d: mutex abandoned unexpectedly", key)
		} else {
			err = op()
		}
		if e := km.ReleaseGL(next); err == nil {
			err = e
		}
	})
	return err
}

// vkTurn is one Vulkan operation under the keyed mutex: it acquires key,
// which must have been abandoned exactly when wantAbandoned says, runs op
// with the acquire's Sync and releases next with op's error (a failed
// operation signalled nothing). It returns the first error.
func vkTurn(km *handoff.KeyedMutex, key, next uint64, wantAbandoned bool, op func(vkalloc.Sync) error) error {
	sync, abandoned, err := km.AcquireVulkan(key, keyTimeout)
	if err != nil {
		return err
	}
	if abandoned != wantAbandoned {
		err = fmt.Errorf("acquired key %d with abandoned = %v, want %v", key, abandoned, wantAbandoned)
	} else {
		err = op(sync)
	}
	if e := km.ReleaseVulkan(next, err); err == nil {
		err = e
	}
	return err
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
		err := vkTurn(km, 5, 6, true, func(sync vkalloc.Sync) error {
			return img.WritePixels(bridge.Subresource{}, testpattern.Expected(w, h, 77), sync)
		})
		if err != nil {
			return err
		}
		// Abandonment is for good, as on Windows: the next acquire is
		// told too.
		var px []byte
		err = vkTurn(km, 6, 6, true, func(sync vkalloc.Sync) (err error) {
			px, err = img.ReadPixels(bridge.Subresource{}, sync)
			return err
		})
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
		err := vkTurn(km, 1, 1, false, func(sync vkalloc.Sync) error {
			px, err := img.ReadPixels(bridge.Subresource{}, sync)
			if err != nil {
				return err
			}
			return checkPattern(px, 2*r)
		})
		if err != nil {
			return fmt.Errorf("round %d: %w", r, err)
		}
		// The read consumed the acquire's wait; the write needs none more.
		err = vkTurn(km, 1, 0, false, func(sync vkalloc.Sync) error {
			return img.WritePixels(bridge.Subresource{}, testpattern.Expected(w, h, 2*r+1), sync)
		})
		if err != nil {
			return fmt.Errorf("round %d: %w", r, err)
		}
	}
	fmt.Printf("DONE %d\n", rounds)
	return nil
}

// startGLSide starts the GL process, with env, on the broker at sock. It
// returns the process, the KMT handle it printed (as printed, for the
// Vulkan process's GLB_KMT, and as a handle) and the path it reported.
func startGLSide(t *testing.T, sock string, env ...string) (gl *testenv.Child, kmt string, h bridge.Handle, path string) {
	t.Helper()
	gl = testenv.StartChild(t, "gl-side", append([]string{"GLB_SOCK=" + sock}, env...)...)
	line := gl.Expect(t, "KMT", childTimeout)
	kmt, path, _ = strings.Cut(line, " ")
	v, err := strconv.ParseUint(kmt, 0, 32)
	if err != nil {
		t.Fatalf("gl-side printed %q: %v", "KMT "+line, err)
	}
	return gl, kmt, bridge.Handle(v), path
}

// TestKeyedMutexAcrossProcesses: a GL process and a Vulkan process
// alternate keys 0 -> 1 -> 0 for 500 rounds, 1000 frames in all, each
// checking that the frame the other wrote arrived whole and in order.
func TestKeyedMutexAcrossProcesses(t *testing.T) {
	sock := startBroker(t)
	const rounds = 500
	gl, kmt, _, path := startGLSide(t, sock, fmt.Sprintf("GLB_ROUNDS=%d", rounds))
	vk := testenv.StartChild(t, "vk-side", "GLB_SOCK="+sock, "GLB_KMT="+kmt, fmt.Sprintf("GLB_ROUNDS=%d", rounds))
	t.Logf("GL side path: %s; Vulkan side path: %s", path, vk.Expect(t, "OPEN", childTimeout))
	vk.Expect(t, "TIMEOUT-OK", childTimeout)
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
	gl, kmt, h, _ := startGLSide(t, sock, "GLB_HOLD=1")
	gl.Expect(t, "HELD", childTimeout)
	// A third party opens it too, so the resource outlives the holder.
	res, err := c.OpenKMT(h)
	if err != nil {
		t.Fatal(err)
	}
	unix.Close(res.FD)
	for _, s := range res.Syncs {
		unix.Close(s.FD)
	}
	vk := testenv.StartChild(t, "vk-side", "GLB_SOCK="+sock, "GLB_KMT="+kmt, "GLB_AFTER_ABANDON=1")
	vk.Expect(t, "OPEN", childTimeout)
	gl.Kill()
	vk.Expect(t, "ABANDONED-OK", childTimeout)
	vk.Wait(t, 30*time.Second)
}
