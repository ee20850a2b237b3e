// Command consumer is the opening side of a cross-process texture: it asks
// the glbridge broker for a resource that samples/producer (or any other
// process) shared, by KMT handle or by name, receives its own fd for the
// memory with the allocation record, and opens it with package share in
//
//   - its own GL context (the default: another wined3d-style renderer), or
//   - with -vulkan, its own Vulkan device (the DXVK role);
//
// then checks every texel against glbridge's test pattern. share imports
// the memory zero-copy where this side can, and copies otherwise (a GL
// without GL_EXT_memory_object_fd, a device of other UUIDs, a producer on
// the host-memory path); the code is the same.
//
// With a broker and a producer running (see samples/producer):
//
//	bin/consumer -kmt 0x40400002
//	bin/consumer -name 'Local\glbridge-sample' -vulkan
//	bin/consumer -kmt 0x40400002 -frame 7 -socket /path/to/broker.sock
//
// It prints what it opened and "OK: all N texels read through ... are frame
// F of the test pattern", and exits with status 0 only if every texel is
// the producer's pattern for -frame. Otherwise it prints why ("... is not
// frame F of the test pattern: texel ...", or the broker's "not found" for
// a stale or made-up handle) and exits with status 1; a wrong command line
// exits with status 2.
package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/bridge/broker"
	"github.com/glbridge/glbridge/samples/kit"
	"github.com/glbridge/glbridge/share"
)

func main() {
	socket := flag.String("socket", broker.DefaultSocketPath(), "the broker's socket")
	kmt := flag.String("kmt", "", "open the resource with this KMT handle (e.g. 0x40400002)")
	name := flag.String("name", "", "open the resource shared under this name")
	vulkan := flag.Bool("vulkan", false, "open it in a Vulkan device instead of a GL context")
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

	// The reply carries the allocation record and new fds for the memory
	// and any semaphores, which are ours.
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
	defer closeFDs(res)             // share's opens keep duplicates
	a := res.Allocation
	fmt.Printf("consumer: opened %v (handle %v): %s %dx%d, %d bytes, driver %s, device %s\n",
		res.KMT, res.Handle, a.Desc.Format, a.Desc.Width, a.Desc.Height, a.Size, a.Device.Driver, a.Device.Device)
	if a.Desc.Dimension != bridge.DimensionTexture2D || a.Desc.Format != bridge.FormatR8G8B8A8Unorm {
		return fmt.Errorf("this sample checks R8G8B8A8_UNORM 2D textures; the resource is a %s %s", a.Desc.Format, a.Desc.Dimension)
	}

	// The producer finished drawing before it shared the handle, and the
	// resource has no keyed mutex (D3D11_RESOURCE_MISC_SHARED), so a plain
	// Open and one read access need no more synchronisation. A resource
	// with a keyed mutex is opened with OpenShared and read between
	// AcquireSync and ReleaseSync: see samples/keyedmutex.
	var px []byte
	var via string
	if vulkan {
		px, via, err = readVulkan(res)
	} else {
		err = kit.OnGLThread(func(getProcAddress kit.ProcAddr) error {
			px, via, err = readGL(getProcAddress, res)
			return err
		})
	}
	if err != nil {
		return err
	}
	w, h := int(a.Desc.Width), int(a.Desc.Height)
	if err := kit.Check(px, w, h, frame); err != nil {
		return fmt.Errorf("the texture read through %s is %w", via, err)
	}
	fmt.Printf("OK: all %d texels read through %s are frame %d of the test pattern\n", w*h, via, frame)
	return nil
}

// readGL is another GL renderer. It runs on the GL thread.
func readGL(getProcAddress kit.ProcAddr, res broker.Resource) (px []byte, via string, err error) {
	g, err := share.NewGL(getProcAddress, share.Options{})
	if err != nil {
		return nil, "", err
	}
	defer g.Close()
	r, err := g.Open(res.Allocation, res.FD)
	if err != nil {
		return nil, "", err
	}
	defer r.Close()
	tex, target := r.Texture()
	px, err = readIn(r, func() ([]byte, error) {
		return kit.ReadTexture(tex, target, int(res.Allocation.Desc.Width), int(res.Allocation.Desc.Height))
	})
	return px, fmt.Sprintf("GL %q texture %d (%s)", g.Identity().Renderer, tex, kit.Describe(r.Path(), r.Reason())), err
}

// readVulkan is the DXVK role.
func readVulkan(res broker.Resource) (px []byte, via string, err error) {
	// nil: the first device that exports memory, standing for the
	// renderer's own (share.NewVulkanOn takes that).
	v, err := share.NewVulkan(nil, share.Options{})
	if err != nil {
		return nil, "", err
	}
	defer v.Close()
	r, err := v.Open(res.Allocation, res.FD)
	if err != nil {
		return nil, "", err
	}
	defer r.Close()
	px, err = readIn(r, func() ([]byte, error) { return r.ReadPixels(bridge.Subresource{}) })
	return px, fmt.Sprintf("Vulkan device %q (%s)", v.DeviceName(), kit.Describe(r.Path(), r.Reason())), err
}

// resource is what share.GLResource and share.VulkanResource both offer.
type resource interface {
	Access(bridge.Access, func() error) error
}

// readIn runs read inside a read access to r, which orders it after
// every access that ended before.
func readIn(r resource, read func() ([]byte, error)) (px []byte, err error) {
	err = r.Access(bridge.AccessRead, func() (err error) {
		px, err = read()
		return err
	})
	return px, err
}

// closeFDs closes the fds an open handed over.
func closeFDs(res broker.Resource) {
	unix.Close(res.FD)
	for _, s := range res.Syncs {
		unix.Close(s.FD)
	}
}
