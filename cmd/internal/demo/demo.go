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
	"github.com/glbridge/glbridge/bridge/broker"
	"github.com/glbridge/glbridge/handoff"
	"github.com/glbridge/glbridge/headless"
	"github.com/glbridge/glbridge/internal/glutil"
	"github.com/glbridge/glbridge/share"
	"github.com/glbridge/glbridge/testpattern"
)

// KeyTimeout bounds each wait for the other side.
const KeyTimeout = 30 * time.Second

// Options are shared by both sides.
type Options struct {
	// Socket is the broker's socket path.
	Socket string
	// Frames is how many frames the producer draws and the consumer
	// receives.
	Frames int
	// Width and Height are the shared texture's size.
	Width  int
	Height int
	// Out is the directory the PNGs go to.
	Out string
	// FrameInterval paces the producer: it waits this long after each
	// frame, so that the demo runs long enough to watch (or to restart
	// the broker under it).
	FrameInterval time.Duration
}

// dial connects a side to the broker with a client that outlives a
// broker restart: each side keeps the texture it holds and its place in
// the keyed mutex's ping-pong, and says when it reconnected.
func dial(o Options, side string) (*broker.Client, error) {
	d := &broker.Dialer{Reconnect: true, OnReconnect: func(e broker.ReconnectEvent) {
		fmt.Printf("%s reconnected to the broker after %v: %d objects restored, %d refused\n", side, e.Down.Round(time.Millisecond), e.Restored, e.Refused)
	}}
	return d.Dial(o.Socket)
}

// PNGName is the file a side writes for a frame.
func PNGName(side string, frame int) string { return fmt.Sprintf("%s-%03d.png", side, frame) }

// Producer creates the shared texture with package share, on a headless
// GL context of its own (a renderer would use its own context), announces
// its KMT handle and paths through announce, and draws o.Frames frames,
// saving each as a PNG. It works on every path share offers: zero-copy
// where GL and Vulkan share memory, a copy where they cannot.
func Producer(o Options, announce func(kmt bridge.Handle, sharePath, syncPath, renderer string)) error {
	ctx, err := headless.New(headless.Options{})
	if err != nil {
		return err
	}
	defer ctx.Close()
	c, err := dial(o, "producer")
	if err != nil {
		return err
	}
	defer c.Close()
	var (
		g   *share.GL
		res *share.GLResource
		kmt bridge.Handle
	)
	ctx.Call(func() {
		if g, err = share.NewGL(ctx.ProcAddr, share.Options{}); err != nil {
			return
		}
		desc := bridge.Texture2D(uint32(o.Width), uint32(o.Height), bridge.FormatR8G8B8A8Unorm)
		desc.BindFlags = 0x28  // D3D11_BIND_SHADER_RESOURCE | D3D11_BIND_RENDER_TARGET
		desc.MiscFlags = 0x100 // D3D11_RESOURCE_MISC_SHARED_KEYEDMUTEX
		if res, err = g.Create(desc); err != nil {
			return
		}
		// No private data of its own: Share registers the D3D11 runtime
		// descriptor DXVK reads, naming the keyed-mutex and sync objects
		// it gives the texture, through which the consumer acquires.
		kmt, err = res.Share(c, nil)
	})
	defer ctx.Call(func() {
		if res != nil {
			res.Close()
		}
		if g != nil {
			g.Close()
		}
	})
	if err != nil {
		return err
	}
	sharePath := res.Path().String()
	if r := res.Reason(); r != "" {
		sharePath += " because " + r
	}
	announce(kmt, sharePath, syncPath(c, kmt), g.Identity().Renderer)

	for frame := range o.Frames {
		var px []byte
		ctx.Call(func() {
			if _, err = res.AcquireSync(0, KeyTimeout); err != nil {
				return
			}
			tex, target := res.Texture()
			if err = testpattern.Draw(tex, target, o.Width, o.Height, frame); err == nil {
				// What the producer drew, as GL sees it.
				px, err = glutil.ReadRGBA8(tex, target, 0, o.Width, o.Height)
			}
			if e := res.ReleaseSync(1); err == nil {
				err = e
			}
		})
		if err != nil {
			return fmt.Errorf("producer frame %d: %w", frame, err)
		}
		if err := WritePNG(filepath.Join(o.Out, PNGName("producer", frame)), px, o.Width, o.Height); err != nil {
			return err
		}
		time.Sleep(o.FrameInterval)
	}
	// Wait for the consumer's last copy before the texture goes away.
	ctx.Call(func() {
		if _, err = res.AcquireSync(0, KeyTimeout); err == nil {
			err = res.ReleaseSync(0)
		}
	})
	return err
}

// syncPath says how the resource's keyed mutex orders GPU work, as the
// broker lists it.
func syncPath(c *broker.Client, kmt bridge.Handle) string {
	l, err := c.List()
	if err != nil {
		return "unknown: " + err.Error()
	}
	for _, r := range l {
		if r.KMT != kmt {
			continue
		}
		for _, s := range r.Syncs {
			if s.Timeline {
				return handoff.PathTimeline.String()
			}
		}
	}
	return handoff.PathFallback.String()
}

// Consumer opens the texture by kmt on a Vulkan device of its own (package
// share: zero-copy when the memory is a Vulkan allocation on its GPU, a
// copy otherwise) and copies o.Frames frames into an image of its own,
// saving each as a PNG; show, when not nil, is given each frame's texels
// (GL row order) to display.
func Consumer(o Options, kmt bridge.Handle, show func(px []byte, frame int) error) (device string, err error) {
	c, err := dial(o, "consumer")
	if err != nil {
		return "", err
	}
	defer c.Close()
	res, err := c.OpenKMT(kmt)
	if err != nil {
		return "", err
	}
	defer unix.Close(res.FD) // OpenShared leaves the fds with the caller
	for _, s := range res.Syncs {
		defer unix.Close(s.FD)
	}
	a := res.Allocation
	var id *bridge.DeviceID
	if !a.HostMemory {
		id = &a.Device
	}
	v, err := share.NewVulkan(id, share.Options{})
	if err != nil {
		return "", err
	}
	defer v.Close()
	shared, err := v.OpenShared(c, res)
	if err != nil {
		return "", err
	}
	defer shared.Close()
	// The consumer copies each frame into an image of its own, as a
	// presenting consumer would, and shows that.
	own, err := v.Create(a.Desc)
	if err != nil {
		return "", err
	}
	defer own.Close()
	w, h := int(a.Desc.Width), int(a.Desc.Height)
	for frame := range o.Frames {
		if _, err := shared.AcquireSync(1, KeyTimeout); err != nil {
			return "", fmt.Errorf("consumer frame %d: %w", frame, err)
		}
		err := own.Access(bridge.AccessReadWrite, func() error { return shared.CopyTo(own) })
		if e := shared.ReleaseSync(0); err == nil {
			err = e
		}
		if err != nil {
			return "", fmt.Errorf("consumer frame %d: %w", frame, err)
		}
		var px []byte
		err = own.Access(bridge.AccessRead, func() (err error) {
			px, err = own.ReadPixels(bridge.Subresource{})
			return err
		})
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
	return v.DeviceName() + " (" + shared.Path().String() + ")", nil
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
