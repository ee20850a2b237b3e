package main

import (
	"bytes"
	"flag"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"

	"github.com/go-gl/gl/v3.2-compatibility/gl"
	"golang.org/x/sys/unix"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/glimport"
	"github.com/glbridge/glbridge/helperdev"
	"github.com/glbridge/glbridge/internal/glutil"
	"github.com/glbridge/glbridge/internal/interop"
	"github.com/glbridge/glbridge/internal/testpattern"
	"github.com/glbridge/glbridge/vkalloc"
)

func init() {
	register(command{name: "demo", summary: "a GL producer and a Vulkan consumer sharing one texture; writes PNGs", run: runDemo})
}

type demoOptions struct {
	out    string
	frames int
	w, h   int
}

func runDemo(args []string) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	var o demoOptions
	fs.StringVar(&o.out, "out", "", "directory for the PNGs (default: a new temporary directory)")
	fs.IntVar(&o.frames, "frames", 4, "frames to produce")
	size := fs.String("size", "256x192", "texture size WxH")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if _, err := fmt.Sscanf(*size, "%dx%d", &o.w, &o.h); err != nil || o.w < testpattern.FrameBits || o.h < 16 {
		return fmt.Errorf("--size %q: want WxH, at least %dx16", *size, testpattern.FrameBits)
	}
	if o.frames < 1 {
		return fmt.Errorf("--frames %d: want at least 1", o.frames)
	}
	if o.out == "" {
		dir, err := os.MkdirTemp("", "glshare-demo-")
		if err != nil {
			return err
		}
		o.out = dir
	} else if err := os.MkdirAll(o.out, 0o755); err != nil {
		return err
	}
	return demoInProcess(o)
}

// demoInProcess runs the producer (a GL context: the wined3d role) and the
// consumer (an independent Vulkan instance and device: the DXVK role) in
// one process. The consumer knows the texture only through the fd and the
// allocation record, exactly what crosses a process boundary.
func demoInProcess(o demoOptions) error {
	env, err := interop.NewEnv("")
	if err != nil {
		return err
	}
	defer env.Close()
	fmt.Printf("producer: GL %s (%s)\n", env.ID.Renderer, env.GL.Platform())

	desc := bridge.Desc{Dimension: bridge.DimensionTexture2D, Width: uint32(o.w), Height: uint32(o.h), DepthOrArraySize: 1, MipLevels: 1, SampleCount: 1, Format: bridge.FormatR8G8B8A8Unorm}
	img, err := vkalloc.NewImage(env.Dev, desc)
	if err != nil {
		return err
	}
	defer img.Close()
	rec := img.Allocation()

	var tex *glimport.Texture
	var mem *glimport.Memory
	if err := withFD(img, func(fd int) (err error) {
		env.GL.Call(func() {
			if mem, err = glimport.ImportMemory(rec, fd); err == nil {
				if tex, err = mem.Texture(rec); err != nil {
					mem.Close()
				}
			}
		})
		return err
	}); err != nil {
		return err
	}
	defer env.GL.Call(func() { tex.Close(); mem.Close() })

	cons, err := helperdev.Open(helperdev.Config{DriverUUID: rec.DriverUUID, DeviceUUID: rec.DeviceUUID, Peer: "allocation record", AppName: "glshare demo consumer"})
	if err != nil {
		return err
	}
	defer cons.Close()
	fmt.Printf("consumer: Vulkan %s, its own instance and device\n", cons.Caps().DeviceName)
	fd, err := img.ExportFD()
	if err != nil {
		return err
	}
	shared, err := vkalloc.ImportImage(cons, rec, fd) // takes fd on success
	if err != nil {
		unix.Close(fd)
		return err
	}
	defer shared.Close()
	own, err := vkalloc.NewImage(cons, desc)
	if err != nil {
		return err
	}
	defer own.Close()

	mismatches := 0
	for frame := range o.frames {
		var produced []byte
		env.GL.Call(func() {
			if err = testpattern.Draw(tex.Name(), tex.Target(), o.w, o.h, frame); err != nil {
				return
			}
			if produced, err = glutil.ReadRGBA8(tex.Name(), tex.Target(), 0, o.w, o.h); err != nil {
				return
			}
			gl.Finish() // no semaphores on this path: GL is done before Vulkan reads
		})
		if err != nil {
			return err
		}
		if err := shared.CopyTo(own, vkalloc.Sync{}); err != nil {
			return err
		}
		seen, err := own.ReadPixels(vkalloc.Subresource{}, vkalloc.Sync{})
		if err != nil {
			return err
		}
		pp := filepath.Join(o.out, fmt.Sprintf("producer-%03d.png", frame))
		cp := filepath.Join(o.out, fmt.Sprintf("consumer-%03d.png", frame))
		if err := writePNG(pp, produced, o.w, o.h); err != nil {
			return err
		}
		if err := writePNG(cp, seen, o.w, o.h); err != nil {
			return err
		}
		want := testpattern.Expected(o.w, o.h, frame)
		got, ok := testpattern.FrameOf(seen, o.w, o.h)
		switch {
		case !bytes.Equal(produced, seen):
			mismatches++
			fmt.Printf("frame %d: MISMATCH: consumer differs from producer at byte %d\n", frame, firstDiff(produced, seen))
		case !bytes.Equal(seen, want):
			mismatches++
			fmt.Printf("frame %d: MISMATCH: both sides agree but differ from the test pattern at byte %d\n", frame, firstDiff(seen, want))
		case !ok || got != frame:
			mismatches++
			fmt.Printf("frame %d: MISMATCH: the image carries frame number %d\n", frame, got)
		default:
			fmt.Printf("frame %d: consumer matches producer pixel for pixel (%dx%d)\n", frame, o.w, o.h)
		}
	}
	fmt.Printf("PNGs in %s\n", o.out)
	if mismatches > 0 {
		return fmt.Errorf("%d of %d frames did not match", mismatches, o.frames)
	}
	fmt.Printf("demo: all %d frames match\n", o.frames)
	return nil
}

// withFD exports a new fd of img, runs f with it and closes it: for
// importers that dup the fd, as glimport does.
func withFD(img *vkalloc.Image, f func(fd int) error) error {
	fd, err := img.ExportFD()
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return f(fd)
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// writePNG writes RGBA8 texels in GL row order (bottom row first) as a PNG
// with the top row first, as the picture is meant to be seen.
func writePNG(path string, px []byte, w, h int) error {
	im := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		copy(im.Pix[y*im.Stride:y*im.Stride+w*4], px[(h-1-y)*w*4:(h-y)*w*4])
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := png.Encode(f, im); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
