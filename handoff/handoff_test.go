package handoff_test

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/glimport"
	"github.com/glbridge/glbridge/handoff"
	"github.com/glbridge/glbridge/internal/glutil"
	"github.com/glbridge/glbridge/internal/gpuenv"
	"github.com/glbridge/glbridge/testpattern"
	"github.com/glbridge/glbridge/vkalloc"
)

const w, h = 64, 32

// imageDesc is the image every test here shares: w×h RGBA8.
var imageDesc = bridge.Desc{Dimension: bridge.DimensionTexture2D, Width: w, Height: h, DepthOrArraySize: 1, MipLevels: 1, SampleCount: 1, Format: bridge.FormatR8G8B8A8Unorm}

type fixture struct {
	env *gpuenv.Env
	img *vkalloc.Image
	mem *glimport.Memory
	tex *glimport.Texture
}

func newFixture(t *testing.T) *fixture {
	env, err := gpuenv.NewEnv("")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(env.Close)
	f := &fixture{env: env}
	var fd int
	if f.img, f.mem, f.tex, fd, err = env.Share(imageDesc); err != nil {
		t.Fatal(err)
	}
	unix.Close(fd)
	t.Cleanup(func() {
		env.GL.Call(func() { f.tex.Close(); f.mem.Close() })
		f.img.Close()
	})
	return f
}

// TestPingPong hands 1000 frames back and forth in one process: GL stamps
// even frames and Vulkan checks them, Vulkan writes odd frames and GL
// checks them; every frame must arrive whole, once, in order. It runs on
// every path the drivers offer and checks that the others are refused.
func TestPingPong(t *testing.T) {
	f := newFixture(t)
	best := handoff.BestPath(f.env.ID, f.env.Dev.Caps())
	t.Logf("best path here: %s", best)
	for _, path := range []handoff.Path{handoff.PathTimeline, handoff.PathBinary, handoff.PathFallback} {
		t.Run(path.String(), func(t *testing.T) {
			var r *handoff.Resource
			var err error
			f.env.GL.Call(func() {
				r, err = handoff.New(handoff.Config{Device: f.env.Dev, Image: f.img, Texture: f.tex, GL: f.env.ID, Path: path})
			})
			if errors.Is(err, bridge.ErrPathUnavailable) {
				// Paths are ordered best first: one no better than the
				// best the drivers offer must be available.
				if path >= best {
					t.Fatalf("%s refused though BestPath is %s: %v", path, best, err)
				}
				t.Skipf("the drivers here lack it: %v", err)
			}
			if err != nil {
				t.Fatal(err)
			}
			defer f.env.GL.Call(func() { r.Close() })
			if r.Path() != path {
				t.Fatalf("Path() = %s", r.Path())
			}
			pingPong(t, f, r, 1000)
		})
	}
}

func pingPong(t *testing.T, f *fixture, r *handoff.Resource, frames int) {
	for frame := 0; frame < frames; frame += 2 {
		// GL writes frame, Vulkan reads it.
		err := glAccess(f, r, bridge.AccessReadWrite, func() error {
			return testpattern.Draw(f.tex.Name(), f.tex.Target(), w, h, frame)
		})
		if err != nil {
			t.Fatalf("frame %d: %v", frame, err)
		}
		var px []byte
		err = vkAccess(r, bridge.AccessRead, func(sync vkalloc.Sync) (err error) {
			px, err = f.img.ReadPixels(bridge.Subresource{}, sync)
			return err
		})
		if err != nil {
			t.Fatalf("frame %d: %v", frame, err)
		}
		checkFrame(t, "Vulkan", px, frame)

		// Vulkan writes frame+1, GL reads it.
		err = vkAccess(r, bridge.AccessReadWrite, func(sync vkalloc.Sync) error {
			return f.img.WritePixels(bridge.Subresource{}, testpattern.Expected(w, h, frame+1), sync)
		})
		if err != nil {
			t.Fatalf("frame %d: %v", frame+1, err)
		}
		err = glAccess(f, r, bridge.AccessRead, func() (err error) {
			px, err = glutil.ReadRGBA8(f.tex.Name(), f.tex.Target(), 0, w, h)
			return err
		})
		if err != nil {
			t.Fatalf("frame %d: %v", frame+1, err)
		}
		checkFrame(t, "GL", px, frame+1)
	}
	g, v := r.Stats()
	if g != uint64(frames) || v != uint64(frames) {
		t.Fatalf("stats: %d GL and %d Vulkan accesses, want %d each", g, v, frames)
	}
}

// glAccess runs op on the GL thread inside a GL access of r: BeginGL, op,
// EndGL. It returns the first error.
func glAccess(f *fixture, r *handoff.Resource, access bridge.Access, op func() error) (err error) {
	f.env.GL.Call(func() {
		if err = r.BeginGL(access); err != nil {
			return
		}
		err = op()
		if e := r.EndGL(); err == nil {
			err = e
		}
	})
	return err
}

// vkAccess runs op inside a Vulkan access of r, with the Sync BeginVulkan
// returned, and ends the access with op's error.
func vkAccess(r *handoff.Resource, access bridge.Access, op func(vkalloc.Sync) error) error {
	sync, err := r.BeginVulkan(access)
	if err != nil {
		return fmt.Errorf("BeginVulkan: %w", err)
	}
	err = op(sync)
	r.EndVulkan(err)
	return err
}

func checkFrame(t *testing.T, reader string, px []byte, frame int) {
	t.Helper()
	got, ok := testpattern.FrameOf(px, w, h)
	if !ok || got != frame {
		t.Fatalf("%s read frame number %d (clean %v), want %d", reader, got, ok, frame)
	}
	if want := testpattern.Expected(w, h, frame); !bytes.Equal(px, want) {
		t.Fatalf("%s read frame %d partly written: differs from the pattern", reader, frame)
	}
}

func TestMisuse(t *testing.T) {
	f := newFixture(t)
	var r *handoff.Resource
	var err error
	f.env.GL.Call(func() {
		r, err = handoff.New(handoff.Config{Device: f.env.Dev, Image: f.img, Texture: f.tex, GL: f.env.ID, Path: handoff.PathFallback})
	})
	if err != nil {
		t.Fatal(err)
	}
	defer f.env.GL.Call(func() { r.Close() })
	mustPanic := func(name string, fn func()) {
		t.Helper()
		defer func() {
			if recover() == nil {
				t.Errorf("%s did not panic", name)
			}
		}()
		fn()
	}
	if _, err := r.BeginVulkan(bridge.AccessRead); err != nil {
		t.Fatal(err)
	}
	f.env.GL.Call(func() { mustPanic("BeginGL during a Vulkan access", func() { r.BeginGL(bridge.AccessRead) }) })
	r.EndVulkan(nil)
	mustPanic("EndVulkan twice", func() { r.EndVulkan(nil) })
	f.env.GL.Call(func() { mustPanic("EndGL without BeginGL", func() { r.EndGL() }) })
	if got := fmt.Sprint(r.Path()); got != "fallback (fences)" {
		t.Errorf("Path() prints %q", got)
	}
}
