// Command consumer is the opening side of a cross-process texture: it asks
// the glbridge broker for a resource that samples/producer (or any other
// process) shared, by KMT handle or by name, receives its own fd for the
// memory with the allocation record, and imports it into
//
//   - its own GL context (the default: another wined3d-style renderer), or
//   - with -vulkan, its own Vulkan instance and device (the DXVK role),
//     chosen by the UUIDs in the record;
//
// then checks every texel against glbridge's test pattern.
//
// With a broker and a producer running (see samples/producer):
//
//	bin/consumer -kmt 0x40400002
//	bin/consumer -name 'Local\glbridge-sample' -vulkan
//	bin/consumer -kmt 0x40400002 -frame 7 -socket /path/to/broker.sock
//
// It prints what it checked and exits with status 0 only if every texel is
// the producer's pattern for -frame. A stale or made-up handle gets the
// broker's NOT_FOUND, which it prints.
//
// The GL context comes from internal/egl, a headless EGL context for tools
// and tests; a real renderer uses its own context. The expected picture is
// computed by internal/testpattern.
package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"

	"github.com/go-gl/gl/v3.2-compatibility/gl"
	"golang.org/x/sys/unix"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/bridge/broker"
	"github.com/glbridge/glbridge/glimport"
	"github.com/glbridge/glbridge/headless"
	"github.com/glbridge/glbridge/helperdev"
	"github.com/glbridge/glbridge/testpattern"
	"github.com/glbridge/glbridge/vkalloc"
)

func main() {
	socket := flag.String("socket", broker.DefaultSocketPath(), "the broker's socket")
	kmt := flag.String("kmt", "", "open the resource with this KMT handle (e.g. 0x40400002)")
	name := flag.String("name", "", "open the resource shared under this name")
	vulkan := flag.Bool("vulkan", false, "import into a Vulkan device instead of a GL context")
	frame := flag.Int("frame", 7, "frame of the test pattern the producer drew")
	flag.Parse()
	if (*kmt == "") == (*name == "") {
		fmt.Fprintln(os.Stderr, "consumer: give exactly one of -kmt and -name")
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*socket, *kmt, *name, *vulkan, *frame); err != nil {
		fmt.Fprintln(os.Stderr, "consumer:", err)
		os.Exit(1)
	}
}

func run(socket, kmt, name string, vulkan bool, frame int) error {
	c, err := broker.Dial(socket)
	if err != nil {
		return fmt.Errorf("%w (is `glshare serve` running?)", err)
	}
	defer c.Close()

	// Open: the reply carries the allocation record and a new fd for the
	// memory, which is ours from now on.
	var res broker.Resource
	if kmt != "" {
		h, perr := strconv.ParseUint(kmt, 0, 32)
		if perr != nil {
			return fmt.Errorf("-kmt %q: %w", kmt, perr)
		}
		res, err = c.OpenKMT(bridge.Handle(h))
	} else {
		res, err = c.OpenName(name, bridge.AccessRead)
	}
	if err != nil {
		return err
	}
	defer c.CloseHandle(res.Handle) // the open is one reference; give it back
	a := res.Allocation
	fmt.Printf("consumer: opened %v (handle %v): %s %dx%d, %d bytes, driver %s, device %s\n",
		res.KMT, res.Handle, a.Desc.Format, a.Desc.Width, a.Desc.Height, a.Size, a.Device.Driver, a.Device.Device)
	if a.Desc.Dimension != bridge.DimensionTexture2D || a.Desc.Format != bridge.FormatR8G8B8A8Unorm {
		unix.Close(res.FD)
		return fmt.Errorf("this sample checks R8G8B8A8_UNORM 2D textures; the resource is a %s %s", a.Desc.Format, a.Desc.Dimension)
	}

	var px []byte
	var via string
	if vulkan {
		px, via, err = readVulkan(a, res.FD)
	} else {
		px, via, err = readGL(a, res.FD)
	}
	if err != nil {
		return err
	}
	w, h := int(a.Desc.Width), int(a.Desc.Height)
	if err := compare(px, testpattern.Expected(w, h, frame), w); err != nil {
		return fmt.Errorf("the texture is not frame %d of the test pattern: %w", frame, err)
	}
	fmt.Printf("OK: all %d texels read through %s are frame %d of the test pattern\n", w*h, via, frame)
	return nil
}

// readVulkan is the DXVK role: an independent Vulkan instance and device,
// picked by the UUIDs in the record, imports the memory as an image.
// It takes fd.
func readVulkan(a bridge.Allocation, fd int) ([]byte, string, error) {
	dev, err := helperdev.Open(helperdev.Config{
		Device: bridge.DeviceID{Driver: a.Device.Driver, Device: a.Device.Device},
		Peer:   "allocation record", AppName: "glbridge consumer sample",
	})
	if err != nil {
		unix.Close(fd)
		return nil, "", err
	}
	defer dev.Close()
	img, err := vkalloc.ImportImage(dev, a, fd) // takes fd on success
	if err != nil {
		unix.Close(fd)
		return nil, "", err
	}
	defer img.Close()
	// The producer finished drawing before it shared the handle, so one read
	// needs no further synchronisation.
	px, err := img.ReadPixels(bridge.Subresource{}, vkalloc.Sync{})
	return px, fmt.Sprintf("Vulkan device %q", dev.Caps().DeviceName), err
}

// readGL is another GL renderer: its own context imports the memory as a
// texture. It closes fd (ImportMemory imports a duplicate).
func readGL(a bridge.Allocation, fd int) (px []byte, via string, err error) {
	defer unix.Close(fd)
	ctx, err := headless.New(headless.Options{})
	if err != nil {
		return nil, "", fmt.Errorf("no headless GL context: %w", err)
	}
	defer ctx.Close()
	ctx.Call(func() {
		if err = glimport.Init(ctx.ProcAddr); err != nil {
			return
		}
		var id glimport.Identity
		if id, err = glimport.QueryIdentity(); err != nil {
			return
		}
		// Memory passes only between one driver on one device.
		if id.Device.Driver != a.Device.Driver || id.Device.Device != a.Device.Device {
			err = fmt.Errorf("%w: GL %q is driver %s device %s; the record says driver %s device %s",
				bridge.ErrUUIDMismatch, id.Renderer, id.Device.Driver, id.Device.Device, a.Device.Driver, a.Device.Device)
			return
		}
		var mem *glimport.Memory
		var tex *glimport.Texture
		if mem, err = glimport.ImportMemory(a, fd); err != nil {
			return
		}
		defer mem.Close()
		if tex, err = mem.Texture(a); err != nil {
			return
		}
		defer tex.Close()
		px = make([]byte, a.Desc.Width*a.Desc.Height*4)
		gl.BindTexture(tex.Target(), tex.Name())
		gl.PixelStorei(gl.PACK_ALIGNMENT, 1)
		gl.GetTexImage(tex.Target(), 0, gl.RGBA, gl.UNSIGNED_BYTE, gl.Ptr(px))
		gl.BindTexture(tex.Target(), 0)
		if e := gl.GetError(); e != gl.NO_ERROR {
			err = fmt.Errorf("glGetTexImage: GL error %#x", e)
		}
		via = fmt.Sprintf("GL %q texture %d", id.Renderer, tex.Name())
	})
	return px, via, err
}

// compare reports the first texel where got differs from want (RGBA8 rows
// of w texels, bottom row first).
func compare(got, want []byte, w int) error {
	if len(got) != len(want) {
		return fmt.Errorf("read %d bytes, want %d", len(got), len(want))
	}
	for i := 0; i < len(got); i += 4 {
		if [4]byte(got[i:i+4]) != [4]byte(want[i:i+4]) {
			return fmt.Errorf("texel (%d,%d) is %v, want %v", i/4%w, i/4/w, got[i:i+4], want[i:i+4])
		}
	}
	return nil
}
