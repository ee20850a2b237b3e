package share

import (
	"errors"
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/bridge/broker"
	"github.com/glbridge/glbridge/glimport"
	"github.com/glbridge/glbridge/handoff"
	"github.com/glbridge/glbridge/helperdev"
	"github.com/glbridge/glbridge/internal/fdutil"
	"github.com/glbridge/glbridge/vkalloc"
)

// GL is the GL side of sharing, for one GL context: the entry point of a
// GL renderer (wined3d) into glbridge. It decides once, in NewGL, how
// this context shares (Path, Reason), and makes and opens resources that
// work the same whatever the path.
//
// Every method of GL and of its GLResources runs on the thread where the
// GL context is current, like the caller's own GL calls. Resources must
// be closed before the GL.
type GL struct {
	side
	id     glimport.Identity
	path   Path
	reason string
	// dev is the Vulkan device Create allocates on: GL's helper device
	// (ZeroCopy) or another device that exports memory (CopyVulkan); nil
	// for CopyHost. devs owns it and the devices opened to copy through
	// records of other devices.
	dev *helperdev.Device
	// service is the broker Create allocates through (Options.Service),
	// nil when it allocates on dev; ownService says NewGL dialled it
	// (AllocateEnv) and Close closes it.
	service    *broker.Client
	ownService bool
}

// NewGL sets up sharing for the caller's GL context. It must run on the
// context's thread with the context current; procAddr is the platform's
// eglGetProcAddress or glXGetProcAddress, handed to glimport.Init.
//
// It chooses the path Create uses:
//
//   - ZeroCopy when GL has GL_EXT_memory_object_fd and a Vulkan device
//     with GL's driver and device UUIDs exports memory: resources are
//     that device's allocations, imported into GL.
//   - CopyVulkan otherwise (or with ForceCopy), when any Vulkan device
//     exports memory: resources are its allocations, which Vulkan
//     processes on that device open zero-copy; GL works on textures of
//     its own and copies at access boundaries.
//   - CopyHost when no Vulkan device can (or under the noVulkan test switch): resources
//     are shared host memory.
//
// Reason says why the path is not ZeroCopy. Only a GL that cannot be
// loaded or queried is an error: a machine without any of the
// extensions still shares, by copying. The caller owns the GL and must
// Close it, on the same thread, after its resources.
func NewGL(procAddr func(name string) unsafe.Pointer, opts Options) (*GL, error) {
	opts = opts.withEnv()
	if err := glimport.Init(procAddr); err != nil {
		return nil, fmt.Errorf("share: %w", err)
	}
	id, err := glimport.QueryIdentity()
	if err != nil {
		return nil, fmt.Errorf("share: %w", err)
	}
	if opts.denyMemoryObject {
		id.MemoryObjectFD = false
	}
	g := &GL{side: side{opts: opts}, id: id, service: opts.Service}
	if g.service == nil {
		sock, err := serviceSocket()
		if err != nil {
			return nil, err
		}
		if sock != "" {
			// The memory lives in this process whatever becomes of the
			// broker: a restarted one gets its handles back.
			if g.service, err = (&broker.Dialer{Reconnect: true}).Dial(sock); err != nil {
				return nil, fmt.Errorf("share: %s: %w", AllocateEnv, err)
			}
			g.ownService = true
		}
	}
	if g.service != nil {
		// The broker allocates: this process needs GL alone, and which
		// memory it gets depends only on what GL can import.
		switch err := id.CheckMemoryObject(); {
		case opts.ForceCopy:
			g.path, g.reason = CopyHost, opts.forceReason()
		case err != nil:
			g.path, g.reason = CopyHost, err.Error()
			if opts.denyMemoryObject {
				g.reason += " (test switch denyMemoryObject)"
			}
		default:
			g.path = ZeroCopy
		}
		return g, nil
	}
	if opts.noVulkan {
		g.path, g.reason = CopyHost, "no Vulkan (test switch noVulkan)"
		return g, nil
	}
	cfg := helperdev.Config{Device: id.Device, Peer: id.String()}
	err = id.CheckMemoryObject()
	var dev *helperdev.Device
	if err == nil {
		dev, err = helperdev.Open(cfg)
	}
	switch {
	case err == nil && !opts.ForceCopy:
		g.path = ZeroCopy
	case err == nil:
		g.path, g.reason = CopyVulkan, opts.forceReason()
	default:
		g.reason = err.Error()
		if opts.denyMemoryObject {
			g.reason += " (test switch denyMemoryObject)"
		}
		if dev, err = openExporting(&cfg); err != nil {
			g.path, g.reason = CopyHost, g.reason+"; "+err.Error()
			return g, nil
		}
		g.path = CopyVulkan
	}
	g.dev = dev
	g.devs.add(dev)
	return g, nil
}

// Path returns the path Create uses. Open chooses per record: a GL on a
// copy path may still import another process's memory zero-copy, and a
// zero-copy GL copies what it cannot import.
func (g *GL) Path() Path { return g.path }

// Reason says why Path is not ZeroCopy ("" when it is): the missing
// extension, the UUID mismatch with both sides' UUIDs, or the option that
// forced the copy.
func (g *GL) Reason() string { return g.reason }

// Identity returns what the GL context said about itself (with
// MemoryObjectFD cleared under the denyMemoryObject test switch).
func (g *GL) Identity() glimport.Identity { return g.id }

// DeviceName names the Vulkan device of this process that Create
// allocates on, "" on CopyHost and when the broker allocates (ViaService).
func (g *GL) DeviceName() string { return deviceName(g.dev) }

// ViaService reports whether Create allocates through the broker
// (Options.Service, AllocateEnv) rather than on a device of this process.
func (g *GL) ViaService() bool { return g.service != nil }

// Close releases the Vulkan devices and a broker connection NewGL dialled.
// Every resource made or opened through g must be closed first. It is
// idempotent.
func (g *GL) Close() error {
	g.side.Close()
	if g.ownService {
		g.ownService = false
		g.service.Close()
	}
	return nil
}

// Create makes a shared texture resource described by desc, on g's path,
// for this process to share (ExportFD, Share). GL sees it as Texture()
// whatever the path.
//
// A format the Vulkan device cannot export falls back to host memory, and
// memory GL fails to import on the zero-copy path (a format it lacks) to
// a texture of GL's own over the same Vulkan memory; the resource's Path
// and Reason say so.
// Buffers, multisampled textures and stencil formats exist only on the
// zero-copy path. The caller owns the resource and must Close it.
func (g *GL) Create(desc bridge.Desc) (*GLResource, error) {
	if err := g.live("Create"); err != nil {
		return nil, err
	}
	if g.service != nil {
		return g.allocate(desc)
	}
	if g.path == CopyHost {
		return g.createHost(desc, g.reason)
	}
	img, err := vkalloc.NewImage(g.dev, desc)
	if errors.Is(err, bridge.ErrUnsupportedFormat) {
		if r, herr := g.createHost(desc, err.Error()); herr == nil {
			return r, nil
		}
	}
	if err != nil {
		return nil, fmt.Errorf("share: Create: %w", err)
	}
	fd, err := img.ExportFD()
	if err != nil {
		img.Close()
		return nil, fmt.Errorf("share: Create: %w", err)
	}
	a := img.Allocation()
	r := newGLResource(g, a, fd)
	why := g.reason
	if g.path == ZeroCopy {
		err = r.importZeroCopy()
		if err == nil {
			r.img = img
			return r, nil
		}
		why = "GL could not import it: " + err.Error()
	}
	l, err := copyLayout(a)
	if err == nil {
		err = r.initCopy(&imageBacking{img: img, dev: g.dev}, l, CopyVulkan, why)
	}
	if err != nil {
		img.Close()
		unix.Close(fd)
		return nil, fmt.Errorf("share: Create: %w", err)
	}
	return r, nil
}

// allocate makes a resource that the broker allocates (Options.Service):
// Vulkan memory of GL's device imported zero-copy, with the timeline
// semaphore the keyed mutex orders on where GL can wait for one; host
// memory where GL cannot import (or on CopyHost), or where the broker
// cannot allocate Vulkan memory for it (a format its device cannot
// export, or no device of GL's UUIDs), the resource's Reason saying why.
func (g *GL) allocate(desc bridge.Desc) (*GLResource, error) {
	why := g.reason
	if g.path == ZeroCopy {
		req := broker.AllocateRequest{Desc: desc, Device: g.id.Device}
		if g.id.SemaphoreFD && g.id.TimelineSemaphore && os.Getenv(handoff.ForceFallbackEnv) != "1" {
			req.Sync = broker.TimelineSync
		}
		res, err := g.service.Allocate(req)
		if errors.Is(err, bridge.ErrNoExternalSemaphore) {
			req.Sync = broker.NoSync
			res, err = g.service.Allocate(req)
		}
		switch {
		case err == nil:
			r := newGLResource(g, res.Allocation, res.FD)
			r.allocated(g.service, res)
			ierr := r.importZeroCopy()
			if ierr == nil {
				return r, nil
			}
			r.Close()
			why = "GL could not import the broker's memory: " + ierr.Error()
		case errors.Is(err, bridge.ErrUnsupportedFormat), errors.Is(err, bridge.ErrNoVulkan):
			why = err.Error()
		default:
			return nil, fmt.Errorf("share: Create: %w", err)
		}
	}
	res, err := g.service.Allocate(broker.AllocateRequest{Desc: desc, HostMemory: true})
	if err != nil {
		return nil, fmt.Errorf("share: Create: %w", err)
	}
	r := newGLResource(g, res.Allocation, res.FD)
	r.allocated(g.service, res)
	if err := openCopy(res.Allocation, res.FD, nil, r.initCopy, CopyHost, why); err != nil {
		r.Close()
		return nil, fmt.Errorf("share: Create: %w", err)
	}
	return r, nil
}

// createHost makes a resource in fresh host memory.
func (g *GL) createHost(desc bridge.Desc, why string) (*GLResource, error) {
	return createHostCopy(desc, why, func(a bridge.Allocation, fd int) *GLResource { return newGLResource(g, a, fd) })
}

// hostAllocation is the record of a host-memory resource: the
// description and the size; every Vulkan field and the UUIDs are zero.
func hostAllocation(desc bridge.Desc, l bridge.HostLayout) bridge.Allocation {
	return bridge.Allocation{Desc: desc, Size: l.Size, HostMemory: true}
}

// Open opens a resource another process or API shares: a, the record that
// came with the memory, and fd, the memory (as broker.Client.OpenKMT and
// OpenName return them). fd stays the caller's, who closes it whatever
// happens: Open keeps duplicates of what it needs.
//
// Vulkan memory whose UUIDs are GL's is imported zero-copy, unless the
// options force a copy or GL fails to import it. Otherwise the
// resource is copied through a Vulkan device of the record's UUIDs, which
// Open opens in this process if need be (an error wrapping bridge.ErrNoVulkan
// or bridge.ErrUUIDMismatch when none can be). Host memory is mapped and
// copied. The caller owns the resource and must Close it.
func (g *GL) Open(a bridge.Allocation, fd int) (*GLResource, error) {
	return openDup(g.live, a, fd, g.open)
}

// OpenShared opens what a broker open returned (broker.Client.OpenKMT or
// OpenName) and attaches the keyed mutex on c, so AcquireSync and
// ReleaseSync work at once: through the keyed-mutex object the resource's
// runtime descriptor names, as DXVK opens it (a reference the resource
// holds until Close), or else through res.Handle. res.FD and the sync fds
// stay the caller's. Private data that is a Direct3D runtime descriptor of
// another resource than the record describes is refused with an error
// wrapping bridge.ErrRuntimeDescMismatch, as Direct3D's OpenSharedResource
// refuses it (E_INVALIDARG).
func (g *GL) OpenShared(c *broker.Client, res broker.Resource) (*GLResource, error) {
	r, err := g.Open(res.Allocation, res.FD)
	return attachOpened(r, err, c, res)
}

// open opens the record with fd, which it owns from here on success.
func (g *GL) open(a bridge.Allocation, fd int) (*GLResource, error) {
	r := newGLResource(g, a, fd)
	err := openRecord(a, fd, r.initCopy, &g.devs, g.opts.noVulkan, func() (why string, done bool, err error) {
		switch {
		case g.opts.ForceCopy:
			return g.opts.forceReason(), false, nil
		case !g.id.MemoryObjectFD:
			why = fmt.Sprintf("GL %q lacks GL_EXT_memory_object_fd", g.id.Renderer)
			if g.opts.denyMemoryObject {
				why += " (test switch denyMemoryObject)"
			}
			return why, false, nil
		case a.Device != g.id.Device:
			return mismatch(a, g.id.String(), g.id.Device), false, nil
		}
		if err := r.importZeroCopy(); err != nil {
			return "GL could not import it: " + err.Error(), false, nil
		}
		return "", true, nil
	})
	if err != nil {
		return nil, err
	}
	return r, nil
}

// importBacking imports the Vulkan memory behind fd (which stays the
// caller's) on dev, as the backing of a copy.
func importBacking(dev *helperdev.Device, a bridge.Allocation, fd int) (*imageBacking, error) {
	dup, err := fdutil.Dup(fd)
	if err != nil {
		return nil, err
	}
	img, err := vkalloc.ImportImage(dev, a, dup)
	if err != nil {
		unix.Close(dup) // ImportImage takes it only on success
		return nil, err
	}
	return &imageBacking{img: img, dev: dev}, nil
}
