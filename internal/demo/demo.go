// Package demo holds the two sides of glshare's demo, each run in its own
// process: the producer, a legacy GL context drawing an animated test
// pattern into a shared texture (the wined3d role), and the consumer, an
// independent Vulkan device that opens the texture by its KMT handle and
// copies it into an image of its own every frame (the DXVK role). They
// take turns through the resource's keyed mutex: the producer draws with
// key 0 and releases key 1, the consumer copies with key 1 and releases
// key 0.
package demo

import (
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/glimport"
	"github.com/glbridge/glbridge/handoff"
	"github.com/glbridge/glbridge/helperdev"
	"github.com/glbridge/glbridge/internal/glutil"
	"github.com/glbridge/glbridge/internal/interop"
	"github.com/glbridge/glbridge/internal/testpattern"
	"github.com/glbridge/glbridge/vkalloc"
)

// KeyTimeout bounds each wait for the other side.
const KeyTimeout = 30 * time.Second

// Options are shared by both sides.
type Options struct {
	Socket string
	Frames int
	Width  int
	Height int
	// Out is the directory the PNGs go to.
	Out string
}

// PNGName is the file a side writes for a frame.
func PNGName(side string, frame int) string { return fmt.Sprintf("%s-%03d.png", side, frame) }

// Producer creates the shared texture, announces its KMT handle through
// announce, and draws o.Frames frames, saving each as a PNG.
func Producer(o Options, announce func(kmt bridge.Handle, path handoff.Path, renderer string)) error {
	env, err := interop.NewEnv("")
	if err != nil {
		return err
	}
	defer env.Close()
	c, err := bridge.Dial(o.Socket)
	if err != nil {
		return err
	}
	defer c.Close()
	img, err := vkalloc.NewImage(env.Dev, bridge.Desc{
		Dimension: bridge.DimensionTexture2D, Width: uint32(o.Width), Height: uint32(o.Height),
		DepthOrArraySize: 1, MipLevels: 1, SampleCount: 1, Format: bridge.FormatR8G8B8A8Unorm,
		BindFlags: 0x28,  /* D3D11_BIND_SHADER_RESOURCE | D3D11_BIND_RENDER_TARGET */
		MiscFlags: 0x100, /* D3D11_RESOURCE_MISC_SHARED_KEYEDMUTEX */
	})
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
	kmt, err := c.CreateWithSync(img.Allocation(), fd, []byte("glshare demo"), syncs)
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
	defer env.GL.Call(func() {
		km.Close()
		tex.Close()
		mem.Close()
	})
	announce(kmt, km.Path(), env.ID.Renderer)

	for frame := range o.Frames {
		var px []byte
		env.GL.Call(func() {
			if _, err = km.AcquireGL(0, KeyTimeout); err != nil {
				return
			}
			if err = testpattern.Draw(tex.Name(), tex.Target(), o.Width, o.Height, frame); err == nil {
				// What the producer drew, as GL sees it.
				px, err = glutil.ReadRGBA8(tex.Name(), tex.Target(), 0, o.Width, o.Height)
			}
			if e := km.ReleaseGL(1); err == nil {
				err = e
			}
		})
		if err != nil {
			return fmt.Errorf("producer frame %d: %w", frame, err)
		}
		if err := WritePNG(filepath.Join(o.Out, PNGName("producer", frame)), px, o.Width, o.Height); err != nil {
			return err
		}
	}
	// Wait for the consumer's last copy before the texture goes away.
	env.GL.Call(func() {
		if _, err = km.AcquireGL(0, KeyTimeout); err == nil {
			err = km.ReleaseGL(0)
		}
	})
	return err
}

// Consumer opens the texture by kmt on a Vulkan device of its own and
// copies o.Frames frames into its own image, saving each as a PNG; show,
// when not nil, is given each frame's texels (GL row order) to display.
func Consumer(o Options, kmt bridge.Handle, show func(px []byte, frame int) error) (device string, err error) {
	c, err := bridge.Dial(o.Socket)
	if err != nil {
		return "", err
	}
	defer c.Close()
	res, err := c.OpenKMT(kmt)
	if err != nil {
		return "", err
	}
	for _, s := range res.Syncs {
		defer unix.Close(s.FD)
	}
	a := res.Allocation
	dev, err := helperdev.Open(helperdev.Config{DriverUUID: a.DriverUUID, DeviceUUID: a.DeviceUUID, Peer: "allocation record", AppName: "glshare demo consumer"})
	if err != nil {
		unix.Close(res.FD)
		return "", err
	}
	defer dev.Close()
	shared, err := vkalloc.ImportImage(dev, a, res.FD) // takes the fd
	if err != nil {
		unix.Close(res.FD)
		return "", err
	}
	defer shared.Close()
	own, err := vkalloc.NewImage(dev, a.Desc)
	if err != nil {
		return "", err
	}
	defer own.Close()
	km, err := handoff.NewKeyedMutexVulkan(c, res.Handle, dev, res.Syncs)
	if err != nil {
		return "", err
	}
	defer km.Close()
	w, h := int(a.Desc.Width), int(a.Desc.Height)
	for frame := range o.Frames {
		sync, _, err := km.AcquireVulkan(1, KeyTimeout)
		if err != nil {
			return "", fmt.Errorf("consumer frame %d: %w", frame, err)
		}
		err = shared.CopyTo(own, sync)
		if e := km.ReleaseVulkan(0, err); err == nil {
			err = e
		}
		if err != nil {
			return "", fmt.Errorf("consumer frame %d: %w", frame, err)
		}
		px, err := own.ReadPixels(vkalloc.Subresource{}, vkalloc.Sync{})
		if err != nil {
			return "", err
		}
		if err := WritePNG(filepath.Join(o.Out, PNGName("consumer", frame)), px, w, h); err != nil {
			return "", err
		}
		if show != nil {
			if err := show(px, frame); err != nil {
				return "", err
			}
		}
	}
	return dev.Caps().DeviceName + " (" + km.Path().String() + ")", nil
}

// WritePNG writes RGBA8 texels in GL row order (bottom row first) as a PNG
// with the top row first, as the picture is meant to be seen.
func WritePNG(path string, px []byte, w, h int) error {
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

// ReadPNG reads a PNG WritePNG wrote back into GL row order.
func ReadPNG(path string) (px []byte, w, h int, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, 0, err
	}
	defer f.Close()
	im, err := png.Decode(f)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("%s: %w", path, err)
	}
	// PNG decodes an opaque image as RGBA, others as NRGBA; for opaque
	// texels, the only kind the demo draws, the bytes are the same.
	var pix []byte
	var stride int
	switch n := im.(type) {
	case *image.NRGBA:
		pix, stride, w, h = n.Pix, n.Stride, n.Rect.Dx(), n.Rect.Dy()
	case *image.RGBA:
		pix, stride, w, h = n.Pix, n.Stride, n.Rect.Dx(), n.Rect.Dy()
	default:
		return nil, 0, 0, fmt.Errorf("%s: a %T, not the 8-bit RGBA image WritePNG writes", path, im)
	}
	px = make([]byte, w*h*4)
	for y := range h {
		copy(px[(h-1-y)*w*4:(h-y)*w*4], pix[y*stride:y*stride+w*4])
	}
	return px, w, h, nil
}
