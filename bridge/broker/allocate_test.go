package broker

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/helperdev"
	"github.com/glbridge/glbridge/internal/testenv"
	"github.com/glbridge/glbridge/vkalloc"
)

// The ALLOCATE tests use real Vulkan: the broker opens its helper device
// of the UUIDs asked, and the tests import what it allocated on helper
// devices of their own, as a client process would. Here that is Mesa's
// lavapipe (which exports no semaphores as fds, so semaphores are
// refused); on a GPU machine the same tests run on the GPU and check the
// semaphore fds instead.

// testDevice is the Vulkan device the allocation tests have the broker
// allocate on: its UUIDs, and what it can do.
type testDevice struct {
	id   bridge.DeviceID
	caps helperdev.Caps
}

// vulkanDevice picks the first Vulkan device with external memory fds and
// reads its caps through a helper device of the test's own.
func vulkanDevice(t testing.TB) testDevice {
	t.Helper()
	devs, err := helperdev.ListPhysicalDevices()
	if err != nil {
		t.Fatalf("ListPhysicalDevices: %v", err)
	}
	for _, d := range devs {
		if d.ExternalMemoryFD {
			dev := openDevice(t, d.Device)
			return testDevice{id: d.Device, caps: dev.Caps()}
		}
	}
	t.Fatalf("no Vulkan device with VK_KHR_external_memory_fd among %+v", devs)
	return testDevice{}
}

// openDevice opens a helper device on id with an instance of its own, as
// an importing process would; it is closed when the test ends (after
// whatever was imported on it, which is registered for closing later).
func openDevice(t testing.TB, id bridge.DeviceID) *helperdev.Device {
	t.Helper()
	dev, err := helperdev.Open(helperdev.Config{Device: id, Peer: "broker test"})
	if err != nil {
		t.Fatalf("helperdev.Open: %v", err)
	}
	t.Cleanup(func() { dev.Close() })
	return dev
}

func mustAllocate(t testing.TB, c *Client, req AllocateRequest) Resource {
	t.Helper()
	r, err := c.Allocate(req)
	if err != nil {
		t.Fatalf("Allocate(%v, host memory %v, sync %d): %v", req.Desc, req.HostMemory, req.Sync, err)
	}
	return r
}

func mustOpen(t testing.TB, c *Client, kmt bridge.Handle) Resource {
	t.Helper()
	r, err := c.OpenKMT(kmt)
	if err != nil {
		t.Fatalf("OpenKMT(%v): %v", kmt, err)
	}
	return r
}

// rgba, bgra are the colour formats the tests allocate.
const (
	rgba = bridge.FormatR8G8B8A8Unorm
	bgra = bridge.FormatB8G8R8A8Unorm
)

// allocKinds are the kinds of resource the allocation tests make: plain
// 2D textures of a texel, an odd size and a large one, a cube, an array
// with mips, a 3D texture with mips and a buffer.
var allocKinds = []struct {
	name string
	desc bridge.Desc
}{
	{"2d-1x1", bridge.Texture2D(1, 1, rgba)},
	{"2d-67x33", bridge.Texture2D(67, 33, rgba)},
	{"2d-256x256", bridge.Texture2D(256, 256, bgra)},
	{"cube", bridge.Desc{Dimension: bridge.DimensionTextureCube, Width: 16, Height: 16, DepthOrArraySize: 1, MipLevels: 2, SampleCount: 1, Format: rgba, MiscFlags: 0x4 /* TEXTURECUBE */}},
	{"2d-array-mips", bridge.Desc{Dimension: bridge.DimensionTexture2D, Width: 37, Height: 20, DepthOrArraySize: 3, MipLevels: 4, SampleCount: 1, Format: rgba}},
	{"3d", bridge.Desc{Dimension: bridge.DimensionTexture3D, Width: 9, Height: 7, DepthOrArraySize: 5, MipLevels: 2, SampleCount: 1, Format: rgba}},
	{"buffer", bridge.Desc{Dimension: bridge.DimensionBuffer, Width: 4099, Height: 1, DepthOrArraySize: 1, MipLevels: 1, SampleCount: 1}},
}

// subresources lists every subresource of d that WritePixels and
// ReadPixels address: each level of each array layer (cube faces count
// as layers; a 3D level is one subresource holding all its slices).
func subresources(d bridge.Desc) []bridge.Subresource {
	layers := d.DepthOrArraySize
	switch d.Dimension {
	case bridge.DimensionTextureCube:
		layers *= 6
	case bridge.DimensionTexture3D:
		layers = 1
	}
	var out []bridge.Subresource
	for level := range d.MipLevels {
		for layer := range layers {
			out = append(out, bridge.Subresource{Level: level, Layer: layer})
		}
	}
	return out
}

// memfdFile returns the File of fd when fd is a memfd, a file of its own
// (as lavapipe exports its memory); ok is false for memory a driver
// exports as a shared device file, whose fds cannot be told apart by the
// file they refer to.
func memfdFile(t testing.TB, fd int) (f testenv.File, ok bool) {
	t.Helper()
	link, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd))
	if err != nil {
		t.Fatalf("fd %d: %v", fd, err)
	}
	if !strings.HasPrefix(link, "/memfd:") {
		return f, false
	}
	return fileOf(t, fd), true
}

// rawRecord sends a request on r that a resource record answers (an
// open or a query of h, in protocol version v) and returns the reply's
// header and its payload decoded as version v encodes it, checking that
// the decoder took every byte. The reply's fds are closed.
func rawRecord(t *testing.T, r *rawConn, typ msgType, h bridge.Handle, v uint16) (header, resourceRecord, []byte) {
	t.Helper()
	r.send(encodeRequest(request{header: header{Type: typ, ID: 500, Version: v}, Handle: h}))
	rh, p, ok := r.recv()
	if !ok {
		t.Fatalf("%v %v (version %d): connection closed", typ, h, v)
	}
	if rh.Status != 0 || rh.ID != 500 || rh.Type != typ|replyBit {
		t.Fatalf("%v %v (version %d): reply type %v status %d (%q)", typ, h, v, rh.Type, rh.Status, p)
	}
	rec, err := decodeResourceRecord(p, v)
	if err != nil {
		t.Fatalf("%v reply of version %d: %v", typ, v, err)
	}
	return rh, rec, p
}

// wantGLSection is the GL section a record of a carries: the GL texture
// (zero for what GL cannot view: a buffer, or a record GLTexture
// refuses) and, for host memory, the layout of each level.
func wantGLSection(t testing.TB, a bridge.Allocation) glSection {
	t.Helper()
	var g glSection
	if a.Desc.Dimension == bridge.DimensionBuffer {
		return g
	}
	g.Tex, _ = a.GLTexture()
	if a.HostMemory {
		l, err := bridge.LayoutOf(a.Desc)
		if err != nil {
			t.Fatal(err)
		}
		g.Levels = l.LevelLayouts()
	}
	return g
}

// TestAllocate has the broker allocate every kind of resource on the
// Vulkan device's UUIDs. The reply is the record of an allocation on that
// device with a new fd of its memory and a KMT handle the connection
// holds; another connection opens the same record; the version-2 GL
// section says what GL makes of it; and the memory is the resource's:
// bytes written to every subresource through an import on one helper
// device are read back through an import, on another, of the fd the other
// connection got. Freeing it closes every fd of it (where its memory is a
// file of its own).
func TestAllocate(t *testing.T) {
	td := vulkanDevice(t)
	devA, devB := openDevice(t, td.id), openDevice(t, td.id)
	brk := &Broker{}
	path := testBroker(t, brk)
	c, other := dial(t, path), dial(t, path)
	for _, k := range allocKinds {
		t.Run(k.name, func(t *testing.T) {
			data := []byte("allocated " + k.name)
			r := mustAllocate(t, c, AllocateRequest{Desc: k.desc, Device: td.id, Data: data})
			a := r.Allocation
			if a.Desc != k.desc || a.Size == 0 || a.Device != td.id || !a.Dedicated || a.HostMemory || a.Offset != 0 {
				t.Fatalf("allocation record %+v: want %v on %v, dedicated, of a size", a, k.desc, td.id)
			}
			if k.desc.Dimension == bridge.DimensionBuffer {
				// Rounded up, with room to spare.
				if a.VkFormat != 0 || a.Size <= uint64(k.desc.Width) {
					t.Errorf("buffer of %d bytes recorded as VkFormat %d, %d bytes", k.desc.Width, a.VkFormat, a.Size)
				}
			} else if a.VkFormat == 0 || a.Tiling != bridge.TilingOptimal || a.ImageUsage == 0 {
				t.Errorf("texture recorded as VkFormat %d, tiling %v, usage %#x: want a format, optimal tiling and usage", a.VkFormat, a.Tiling, a.ImageUsage)
			}
			if !r.Handle.IsKMT() || r.KMT != r.Handle || r.Access != bridge.AccessReadWrite || !r.ServiceAllocated ||
				!bytes.Equal(r.Data, data) || len(r.Syncs) != 0 {
				t.Fatalf("Allocate = %+v", r)
			}
			if !testenv.FDOpen(r.FD) {
				t.Fatalf("Allocate's fd %d is not open", r.FD)
			}
			kmt := r.KMT
			// The fd is the caller's, a dup of the memory the broker keeps:
			// where the memory is a file of its own, the same file.
			memFile, ownFile := memfdFile(t, r.FD)
			if ownFile {
				if kept := resourceFiles(t, brk, kmt); len(kept) != 1 || kept[0] != memFile {
					t.Fatalf("the broker keeps %v for the resource, the reply's fd is %v", kept, memFile)
				}
			}

			q, err := c.Query(kmt)
			if err != nil || q.Allocation != a || q.FD != -1 || !q.ServiceAllocated || !bytes.Equal(q.Data, data) {
				t.Fatalf("Query = %+v, %v", q, err)
			}
			o := mustOpen(t, other, kmt)
			if f, _ := memfdFile(t, o.FD); o.Allocation != a || o.KMT != kmt || !o.ServiceAllocated || !bytes.Equal(o.Data, data) || o.FD == r.FD || f != memFile {
				t.Fatalf("OpenKMT from another connection = %+v, want the record %+v and the same memory", o, a)
			}
			l := mustList(t, c)
			if len(l) != 1 || l[0].KMT != kmt || l[0].Allocation != a || l[0].AllocatedOn != td.caps.DeviceName ||
				l[0].CreatorPID != int32(os.Getpid()) || l[0].Refs != 2 || l[0].DataLen != len(data) {
				t.Fatalf("List = %+v, want the resource allocated on %q, held twice", l, td.caps.DeviceName)
			}

			// The version-2 GL section of an open reply.
			raw := dialRaw(t, brk, path)
			_, rec, _ := rawRecord(t, raw, msgOpenKMT, kmt, protocolVersion)
			want := wantGLSection(t, a)
			if isTex := k.desc.Dimension != bridge.DimensionBuffer; isTex != (want.Tex.Target != 0) {
				t.Fatalf("GL texture of %+v: %+v", a, want.Tex)
			}
			if !rec.ServiceAllocated || rec.Alloc != a || rec.GL.Tex != want.Tex || rec.GL.Levels != nil {
				t.Fatalf("open reply's record %+v, want GL section %+v", rec, want)
			}
			raw.send(encodeRequest(request{header: header{Type: msgClose, ID: 501}, Handle: kmt}))
			raw.expect("close", 501, 0)

			// The memory: written through one import, read through another.
			if k.desc.Dimension == bridge.DimensionBuffer {
				bufA, err := vkalloc.ImportBuffer(devA, a, r.FD)
				if err != nil {
					t.Fatalf("ImportBuffer of the allocated fd: %v", err)
				}
				t.Cleanup(func() { bufA.Close() })
				bufB, err := vkalloc.ImportBuffer(devB, o.Allocation, o.FD)
				if err != nil {
					t.Fatalf("ImportBuffer of the opened fd: %v", err)
				}
				t.Cleanup(func() { bufB.Close() })
				want := pattern(int(k.desc.Width), 0x3c)
				if err := bufA.WriteBytes(0, want, vkalloc.Sync{}); err != nil {
					t.Fatal(err)
				}
				got, err := bufB.ReadBytes(0, uint64(len(want)), vkalloc.Sync{})
				if err != nil {
					t.Fatal(err)
				}
				if i := firstDiff(got, want); i >= 0 {
					t.Fatalf("buffer read through the other import differs at byte %d of %d", i, len(want))
				}
				bufA.Close()
				bufB.Close()
			} else {
				imA, err := vkalloc.ImportImage(devA, a, r.FD)
				if err != nil {
					t.Fatalf("ImportImage of the allocated fd: %v", err)
				}
				t.Cleanup(func() { imA.Close() })
				imB, err := vkalloc.ImportImage(devB, o.Allocation, o.FD)
				if err != nil {
					t.Fatalf("ImportImage of the opened fd: %v", err)
				}
				t.Cleanup(func() { imB.Close() })
				for i, s := range subresources(k.desc) {
					// One way for even subresources, the other for odd ones.
					from, to := imA, imB
					if i%2 == 1 {
						from, to = imB, imA
					}
					n, err := from.SubresourceSize(s)
					if err != nil {
						t.Fatal(err)
					}
					want := pattern(int(n), byte(0x40+i))
					if err := from.WritePixels(s, want, vkalloc.Sync{}); err != nil {
						t.Fatalf("WritePixels %+v: %v", s, err)
					}
					got, err := to.ReadPixels(s, vkalloc.Sync{})
					if err != nil {
						t.Fatalf("ReadPixels %+v: %v", s, err)
					}
					if j := firstDiff(got, want); j >= 0 {
						t.Fatalf("subresource %+v read through the other import differs at byte %d of %d", s, j, len(want))
					}
				}
				imA.Close()
				imB.Close()
			}

			closeRefs(t, "", ref{c, kmt}, ref{other, kmt})
			if l := mustList(t, c); len(l) != 0 {
				t.Fatalf("List after the last close = %+v", l)
			}
			// Freed, the broker closed its fd and destroyed its image:
			// nothing in this process refers to the memory any more.
			if ownFile {
				waitFor(t, "every fd of the freed memory to close", func() bool { return openCount(t, memFile) == 0 })
			}
		})
	}
}

func firstDiff(a, b []byte) int {
	if len(a) != len(b) {
		return min(len(a), len(b))
	}
	for i := range a {
		if a[i] != b[i] {
			return i
		}
	}
	return -1
}

// TestAllocateHostMemory has the broker allocate host memory: a memfd
// sealed against shrinking and growing of exactly the resource's host
// layout size, recorded as host memory, listed as such; its GL section
// carries the layout of every level. Bytes written through a mapping of
// the allocator's fd are read through a mapping of another connection's.
// Host memory needs no Vulkan: the broker opens no device for it, whatever
// UUIDs the request names.
func TestAllocateHostMemory(t *testing.T) {
	brk := &Broker{}
	path := testBroker(t, brk)
	c, other := dial(t, path), dial(t, path)
	var nowhere bridge.UUID
	copy(nowhere[:], "no-such-device!!")
	for _, desc := range []bridge.Desc{
		bridge.Texture2D(67, 33, rgba),
		bridge.Texture2D(1, 1, bgra),
		{Dimension: bridge.DimensionTexture2D, Width: 37, Height: 20, DepthOrArraySize: 3, MipLevels: 4, SampleCount: 1, Format: rgba},
		{Dimension: bridge.DimensionTextureCube, Width: 16, Height: 16, DepthOrArraySize: 1, MipLevels: 5, SampleCount: 1, Format: rgba, MiscFlags: 0x4},
		{Dimension: bridge.DimensionTexture3D, Width: 9, Height: 7, DepthOrArraySize: 5, MipLevels: 2, SampleCount: 1, Format: rgba},
		{Dimension: bridge.DimensionTexture1D, Width: 64, Height: 1, DepthOrArraySize: 2, MipLevels: 3, SampleCount: 1, Format: rgba},
		{Dimension: bridge.DimensionTexture2D, Width: 64, Height: 32, DepthOrArraySize: 1, MipLevels: 7, SampleCount: 1, Format: bridge.FormatBC1Unorm},
		{Dimension: bridge.DimensionTexture2D, Width: 30, Height: 10, DepthOrArraySize: 1, MipLevels: 1, SampleCount: 1, Format: bridge.FormatD32Float, BindFlags: 0x40},
	} {
		t.Run(desc.String(), func(t *testing.T) {
			layout, err := bridge.LayoutOf(desc)
			if err != nil {
				t.Fatal(err)
			}
			r := mustAllocate(t, c, AllocateRequest{Desc: desc, HostMemory: true, Device: bridge.DeviceID{Driver: nowhere, Device: nowhere}})
			want := bridge.Allocation{Desc: desc, Size: layout.Size, HostMemory: true}
			if r.Allocation != want || !r.ServiceAllocated || !r.Handle.IsKMT() || len(r.Syncs) != 0 || !testenv.FDOpen(r.FD) {
				t.Fatalf("Allocate = %+v, want %+v", r, want)
			}
			defer unix.Close(r.FD)
			link, _ := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", r.FD))
			if !strings.HasPrefix(link, "/memfd:") {
				t.Fatalf("host memory fd links to %q, not a memfd", link)
			}
			seals, err := unix.FcntlInt(uintptr(r.FD), unix.F_GET_SEALS, 0)
			const sealed = unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_SEAL
			if err != nil || seals&sealed != sealed {
				t.Fatalf("host memory seals %#x, %v: want F_SEAL_SHRINK|F_SEAL_GROW|F_SEAL_SEAL", seals, err)
			}
			var st unix.Stat_t
			if err := unix.Fstat(r.FD, &st); err != nil || uint64(st.Size) != layout.Size {
				t.Fatalf("host memory holds %d bytes (%v), its layout %d", st.Size, err, layout.Size)
			}
			if err := unix.Ftruncate(r.FD, int64(layout.Size)+4096); err == nil {
				t.Fatalf("host memory grew")
			}
			m, err := unix.Mmap(r.FD, 0, int(layout.Size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
			if err != nil {
				t.Fatal(err)
			}
			defer unix.Munmap(m)
			if bytes.Count(m, []byte{0}) != len(m) {
				t.Fatalf("new host memory is not zero")
			}
			px := pattern(len(m), 0x77)
			copy(m, px)

			o := mustOpen(t, other, r.KMT)
			defer unix.Close(o.FD)
			if o.Allocation != want || !o.ServiceAllocated {
				t.Fatalf("OpenKMT = %+v", o)
			}
			m2, err := unix.Mmap(o.FD, 0, int(layout.Size), unix.PROT_READ, unix.MAP_SHARED)
			if err != nil {
				t.Fatal(err)
			}
			defer unix.Munmap(m2)
			if i := firstDiff(m2, px); i >= 0 {
				t.Fatalf("the other connection's mapping differs at byte %d of %d", i, len(px))
			}

			raw := dialRaw(t, brk, path)
			_, rec, _ := rawRecord(t, raw, msgOpenKMT, r.KMT, protocolVersion)
			wantGL := wantGLSection(t, want)
			if rec.Alloc != want || !rec.ServiceAllocated || rec.GL.Tex != wantGL.Tex || !slices.Equal(rec.GL.Levels, layout.LevelLayouts()) || len(rec.GL.Levels) != int(desc.MipLevels) {
				t.Fatalf("open reply's GL section %+v, want %+v", rec.GL, wantGL)
			}
			_, rec, _ = rawRecord(t, raw, msgQuery, r.KMT, protocolVersion)
			if rec.GL.Tex != wantGL.Tex || !slices.Equal(rec.GL.Levels, wantGL.Levels) {
				t.Fatalf("query reply's GL section %+v, want %+v", rec.GL, wantGL)
			}
			raw.send(encodeRequest(request{header: header{Type: msgClose, ID: 501}, Handle: r.KMT}))
			raw.expect("close", 501, 0)

			if l := mustList(t, c); len(l) != 1 || l[0].AllocatedOn != hostMemoryDevice || l[0].Allocation != want || l[0].Refs != 2 {
				t.Fatalf("List = %+v, want the host memory, held twice", l)
			}
			closeRefs(t, "", ref{c, r.KMT}, ref{other, r.KMT})
			if l := mustList(t, c); len(l) != 0 {
				t.Fatalf("List after the last close = %+v", l)
			}
		})
	}
	brk.devices.mu.Lock()
	n := len(brk.devices.devs)
	brk.devices.mu.Unlock()
	if n != 0 {
		t.Errorf("host memory alone made the broker open %d Vulkan devices", n)
	}
}

// refused checks that an allocation fails with code, matching bridge
// error berr too (nil: code has no bridge error), and allocates nothing;
// it returns the error.
func refused(t *testing.T, c *Client, what string, req AllocateRequest, code Code, berr error) error {
	t.Helper()
	before := mustList(t, c)
	r, err := c.Allocate(req)
	if err == nil {
		closeResource(r)
		t.Fatalf("%s: Allocate succeeded: %+v", what, r)
	}
	if !errors.Is(err, code) || (berr != nil && !errors.Is(err, berr)) {
		t.Fatalf("%s: Allocate: %v, want %v matching %v", what, err, code, berr)
	}
	if r.FD != -1 {
		t.Fatalf("%s: a refused Allocate returned fd %d", what, r.FD)
	}
	t.Logf("%s: %v", what, err)
	if after := mustList(t, c); !slices.EqualFunc(before, after, func(a, b ResourceInfo) bool { return a.KMT == b.KMT }) {
		t.Fatalf("%s: the refused Allocate changed the list from %+v to %+v", what, before, after)
	}
	return err
}

// TestAllocateRefused: each allocation the broker cannot make is refused
// with its named error, which a caller matches as the broker Code and as
// bridge's error value; nothing is allocated, and the broker goes on
// allocating for the same connection.
func TestAllocateRefused(t *testing.T) {
	td := vulkanDevice(t)
	dev := openDevice(t, td.id)
	brk := &Broker{}
	path := testBroker(t, brk)
	c, other := dial(t, path), dial(t, path)
	good := AllocateRequest{Desc: bridge.Texture2D(8, 8, rgba), Device: td.id}
	stillServed := func(what string) {
		t.Helper()
		for _, req := range []AllocateRequest{good, {Desc: good.Desc, HostMemory: true}} {
			r := mustAllocate(t, c, req)
			closeResource(r)
			closeRefs(t, "after "+what+": ", ref{c, r.KMT})
		}
		if l := mustList(t, c); len(l) != 0 {
			t.Fatalf("after %s: List = %+v", what, l)
		}
	}
	stillServed("warm-up")

	var nowhere bridge.UUID
	copy(nowhere[:], "no-such-device!!")
	for _, id := range []bridge.DeviceID{
		{Driver: nowhere, Device: nowhere},
		{Driver: nowhere, Device: td.id.Device},
		{Driver: td.id.Driver, Device: nowhere},
		{},
	} {
		what := "unknown UUIDs " + id.String()
		// Twice: the second answer comes from what the first learnt.
		for range 2 {
			refused(t, c, what, AllocateRequest{Desc: good.Desc, Device: id}, CodeNoDevice, bridge.ErrNoVulkan)
		}
		stillServed(what)
	}

	noWidth := good.Desc
	noWidth.Width = 0
	refused(t, c, "Width 0", AllocateRequest{Desc: noWidth, Device: td.id}, CodeInvalidDesc, bridge.ErrInvalidDesc)
	refused(t, c, "Width 0 in host memory", AllocateRequest{Desc: noWidth, HostMemory: true}, CodeInvalidDesc, bridge.ErrInvalidDesc)
	noMips := good.Desc
	noMips.MipLevels = 0
	refused(t, c, "MipLevels 0", AllocateRequest{Desc: noMips, Device: td.id}, CodeInvalidDesc, bridge.ErrInvalidDesc)
	cubeNoFlag := bridge.Desc{Dimension: bridge.DimensionTextureCube, Width: 16, Height: 16, DepthOrArraySize: 1, MipLevels: 1, SampleCount: 1, Format: rgba}
	refused(t, c, "cube without TEXTURECUBE", AllocateRequest{Desc: cubeNoFlag, Device: td.id}, CodeInvalidDesc, bridge.ErrInvalidDesc)
	stillServed("invalid descs")

	buffer := bridge.Desc{Dimension: bridge.DimensionBuffer, Width: 4096, Height: 1, DepthOrArraySize: 1, MipLevels: 1, SampleCount: 1}
	refused(t, c, "host memory of a buffer", AllocateRequest{Desc: buffer, HostMemory: true}, CodeUnsupportedFormat, bridge.ErrUnsupportedFormat)
	msaa := bridge.Desc{Dimension: bridge.DimensionTexture2D, Width: 16, Height: 16, DepthOrArraySize: 1, MipLevels: 1, SampleCount: 4, Format: rgba, BindFlags: 0x20}
	refused(t, c, "host memory of a multisampled texture", AllocateRequest{Desc: msaa, HostMemory: true}, CodeUnsupportedFormat, bridge.ErrUnsupportedFormat)
	d24s8 := bridge.Desc{Dimension: bridge.DimensionTexture2D, Width: 16, Height: 16, DepthOrArraySize: 1, MipLevels: 1, SampleCount: 1, Format: bridge.FormatD24UnormS8Uint, BindFlags: 0x40}
	refused(t, c, "host memory with stencil", AllocateRequest{Desc: d24s8, HostMemory: true}, CodeUnsupportedFormat, bridge.ErrUnsupportedFormat)
	stillServed("host memory the copy path cannot carry")

	// What the device cannot make: 32 samples (lavapipe has 1 and 4), and
	// the first format that the test's own helper device says it cannot
	// export, if there is one.
	msaa32 := msaa
	msaa32.SampleCount = 32
	if sup, err := vkalloc.QuerySupport(dev, msaa32); errors.Is(err, bridge.ErrUnsupportedFormat) || (err == nil && sup.SampleCounts&32 == 0) {
		refused(t, c, "32 samples on "+td.caps.DeviceName, AllocateRequest{Desc: msaa32, Device: td.id}, CodeUnsupportedFormat, bridge.ErrUnsupportedFormat)
	} else {
		t.Logf("%s has 32 samples", td.caps.DeviceName)
	}
	for _, f := range bridge.Formats() {
		d := bridge.Texture2D(16, 16, f.Format)
		if d.Validate() != nil {
			continue
		}
		if _, err := vkalloc.QuerySupport(dev, d); errors.Is(err, bridge.ErrUnsupportedFormat) {
			refused(t, c, f.Name+" on "+td.caps.DeviceName, AllocateRequest{Desc: d, Device: td.id}, CodeUnsupportedFormat, bridge.ErrUnsupportedFormat)
			break
		}
	}
	stillServed("what the device cannot make")

	// Semaphores: refused where the device exports none as fds (lavapipe);
	// where it does, they come as fds of the kinds asked, to the allocator
	// and to every opener.
	for _, s := range []struct {
		name     string
		sync     SyncRequest
		count    int
		n        int
		timeline bool
		can      bool
	}{
		{"binary", BinarySync, 0, 2, false, td.caps.ExternalSemaphoreFD},
		{"one binary", BinarySync, 1, 1, false, td.caps.ExternalSemaphoreFD},
		{"timeline", TimelineSync, 0, 1, true, td.caps.TimelineSemaphoreFD},
	} {
		req := AllocateRequest{Desc: good.Desc, Device: td.id, Sync: s.sync, SyncCount: s.count}
		if !s.can {
			refused(t, c, s.name+" semaphores on "+td.caps.DeviceName, req, CodeNoSemaphore, bridge.ErrNoExternalSemaphore)
			stillServed(s.name + " semaphores")
			continue
		}
		t.Logf("%s exports %s semaphores as fds", td.caps.DeviceName, s.name)
		checkSyncs := func(what string, r Resource) {
			t.Helper()
			if len(r.Syncs) != s.n {
				t.Fatalf("%s with %s semaphores: %d sync fds, want %d", what, s.name, len(r.Syncs), s.n)
			}
			for _, sf := range r.Syncs {
				if sf.Timeline != s.timeline || !testenv.FDOpen(sf.FD) {
					t.Fatalf("%s: sync fd %+v, want an open fd of a timeline %v semaphore", what, sf, s.timeline)
				}
			}
		}
		r := mustAllocate(t, c, req)
		checkSyncs("Allocate", r)
		o := mustOpen(t, other, r.KMT)
		checkSyncs("OpenKMT", o)
		if l := mustList(t, c); len(l) != 1 || len(l[0].Syncs) != s.n || l[0].Syncs[0].Timeline != s.timeline {
			t.Fatalf("List = %+v", l)
		}
		// They are semaphores of their kind, shared: imported from the
		// two replies, a timeline value signalled through one import is
		// read through the other.
		var sems [2]*vkalloc.Semaphore
		for i, fd := range []int{r.Syncs[0].FD, o.Syncs[0].FD} {
			sem, err := vkalloc.ImportSemaphore(dev, fd, s.timeline)
			if err != nil {
				t.Fatalf("importing the %s semaphore fd: %v", s.name, err)
			}
			defer sem.Close()
			sems[i] = sem
		}
		if s.timeline {
			if err := sems[0].Signal(7); err != nil {
				t.Fatal(err)
			}
			if v, err := sems[1].Value(); err != nil || v != 7 {
				t.Fatalf("timeline value through the other import: %d, %v; want 7", v, err)
			}
		}
		unix.Close(r.FD)
		unix.Close(o.FD)
		for _, sf := range append(r.Syncs[1:], o.Syncs[1:]...) {
			unix.Close(sf.FD)
		}
		closeRefs(t, "", ref{c, r.KMT}, ref{other, r.KMT})
		stillServed(s.name + " semaphores")
	}
	refused(t, c, "semaphores in host memory", AllocateRequest{Desc: good.Desc, HostMemory: true, Sync: TimelineSync}, CodeInvalid, nil)
	refused(t, c, "3 binary semaphores", AllocateRequest{Desc: good.Desc, Device: td.id, Sync: BinarySync, SyncCount: 3}, CodeInvalid, nil)
	refused(t, c, "2 timeline semaphores", AllocateRequest{Desc: good.Desc, Device: td.id, Sync: TimelineSync, SyncCount: 2}, CodeInvalid, nil)
	if _, err := c.Allocate(AllocateRequest{Desc: good.Desc, Device: td.id, Data: make([]byte, MaxPrivateData+1)}); !errors.Is(err, CodeTooLarge) {
		t.Fatalf("Allocate with too much private data: %v, want CodeTooLarge", err)
	}
	stillServed("bad semaphore requests")

	// What the refusals booked against the quotas is given back.
	brk.mu.Lock()
	defer brk.mu.Unlock()
	if len(brk.uidUsage) != 0 {
		t.Errorf("after the refusals the quotas still count %+v", brk.uidUsage)
	}
}

// TestAllocateQuota: creates and allocations count against the quotas of
// their connection and of its uid, by resources and by bytes; going over
// one is CodeQuota (bridge.ErrQuota) naming the quota, and allocates
// nothing; a resource is charged until it is freed, however many hold it,
// and its freeing, or its creator's death, gives the quota back.
func TestAllocateQuota(t *testing.T) {
	td := vulkanDevice(t)
	tex := AllocateRequest{Desc: bridge.Texture2D(64, 64, rgba), Device: td.id}
	host := func(w, h uint32) AllocateRequest {
		return AllocateRequest{Desc: bridge.Texture2D(w, h, rgba), HostMemory: true}
	}
	overQuota := func(t *testing.T, c *Client, what string, req AllocateRequest, names string) {
		t.Helper()
		if err := refused(t, c, what, req, CodeQuota, bridge.ErrQuota); !strings.Contains(err.Error(), names) {
			t.Fatalf("%s: %v does not name the %s", what, err, names)
		}
	}
	noUsage := func(t *testing.T, brk *Broker) {
		t.Helper()
		brk.mu.Lock()
		defer brk.mu.Unlock()
		if len(brk.uidUsage) != 0 {
			t.Fatalf("with every resource freed the quotas still count %+v", brk.uidUsage)
		}
	}

	t.Run("resources", func(t *testing.T) {
		brk := &Broker{MaxResourcesPerConn: 2, MaxResourcesPerUID: 3}
		path := testBroker(t, brk)
		a, b := dial(t, path), dial(t, path)
		ra := mustAllocate(t, a, tex)
		closeResource(ra)
		// A create counts too.
		fd := memfd(t, 4096, 1)
		defer unix.Close(fd)
		created, err := a.Create(testAllocation(4096), fd, nil)
		if err != nil {
			t.Fatal(err)
		}
		overQuota(t, a, "a third allocation on the connection", tex, "connection")
		overQuota(t, a, "a third allocation of host memory on the connection", host(4, 4), "connection")
		if _, err := a.Create(testAllocation(4096), fd, nil); !errors.Is(err, CodeQuota) || !errors.Is(err, bridge.ErrQuota) {
			t.Fatalf("a third create on the connection: %v, want CodeQuota", err)
		}
		// Opening is not creating: a holds a reference to b's resource
		// without being charged for it.
		rb := mustAllocate(t, b, host(4, 4))
		closeResource(rb)
		overQuota(t, b, "a fourth resource of the uid", tex, "uid")
		if l := mustList(t, a); len(l) != 3 {
			t.Fatalf("List = %+v, want the 3 resources of the quota", l)
		}
		// Held by another connection, a closed resource is still charged.
		closeResource(mustOpen(t, b, ra.KMT))
		closeRefs(t, "", ref{a, ra.KMT})
		overQuota(t, b, "a resource of the uid while another still holds its first", tex, "uid")
		closeRefs(t, "", ref{b, ra.KMT})
		// Freed, it is not.
		r := mustAllocate(t, b, tex)
		closeResource(r)
		overQuota(t, b, "a third resource of b", tex, "connection")
		closeRefs(t, "", ref{b, r.KMT}, ref{a, created})
		// A connection's death frees what it made, and gives its quota
		// back.
		c := dial(t, path)
		closeResource(mustAllocate(t, c, tex))
		closeResource(mustAllocate(t, c, host(8, 8)))
		overQuota(t, a, "a resource of the uid while c holds two", tex, "uid")
		c.Close()
		waitFor(t, "the broker to free c's resources", func() bool { return len(mustList(t, a)) == 1 })
		r = mustAllocate(t, a, tex)
		closeResource(r)
		closeRefs(t, "", ref{a, r.KMT}, ref{b, rb.KMT})
		noUsage(t, brk)
	})

	t.Run("bytes", func(t *testing.T) {
		const size = 64 * 64 * 4 // host memory of a 64×64 RGBA texture
		brk := &Broker{MaxBytesPerConn: 2*size + size/2, MaxBytesPerUID: 3 * size}
		path := testBroker(t, brk)
		a, b := dial(t, path), dial(t, path)
		var refs []ref
		keep := func(c *Client, req AllocateRequest) {
			t.Helper()
			r := mustAllocate(t, c, req)
			closeResource(r)
			refs = append(refs, ref{c, r.KMT})
		}
		keep(a, host(64, 64))
		keep(a, host(64, 64))
		overQuota(t, a, "host memory over the connection's bytes", host(64, 64), "connection")
		keep(a, host(32, 32)) // a: 2.25 × size of 2.5
		keep(a, host(32, 32)) // a: exactly its quota
		overQuota(t, a, "a 1×1 texture over the connection's bytes", host(1, 1), "connection")
		overQuota(t, b, "host memory over the uid's bytes", host(64, 64), "uid")
		keep(b, host(32, 32)) // the uid: 2.75 × size of 3
		overQuota(t, b, "a 64×32 texture over the uid's bytes", host(64, 32), "uid")
		overQuota(t, b, "Vulkan memory over the uid's bytes", tex, "uid")
		// Freed, a's first gives room to b.
		closeRefs(t, "", refs[0])
		keep(b, host(64, 64))
		overQuota(t, b, "host memory larger than the quota", host(128, 128), "connection")
		closeRefs(t, "", refs[1:]...)
		noUsage(t, brk)
	})

	t.Run("vulkan bytes", func(t *testing.T) {
		// Vulkan memory is charged its size, which the device says.
		im, err := vkalloc.NewImage(openDevice(t, td.id), tex.Desc)
		if err != nil {
			t.Fatal(err)
		}
		size := im.Allocation().Size
		im.Close()
		brk := &Broker{MaxBytesPerConn: 2 * size, MaxBytesPerUID: 3 * size}
		path := testBroker(t, brk)
		a, b := dial(t, path), dial(t, path)
		var refs []ref
		for _, c := range []*Client{a, a, b} {
			r := mustAllocate(t, c, tex)
			closeResource(r)
			if r.Allocation.Size != size {
				t.Fatalf("the broker's allocation of %v has %d bytes, the test's %d", tex.Desc, r.Allocation.Size, size)
			}
			refs = append(refs, ref{c, r.KMT})
		}
		overQuota(t, a, "Vulkan memory over the connection's bytes", tex, "connection")
		overQuota(t, b, "Vulkan memory over the uid's bytes", tex, "uid")
		closeRefs(t, "", refs...)
		noUsage(t, brk)

		// The broker books an allocation at an estimate, its texels, and
		// charges it the size the device says once it is made: one that
		// passes the booking but not the charge is refused, and what was
		// allocated for it is destroyed.
		odd := AllocateRequest{Desc: bridge.Texture2D(67, 33, rgba), Device: td.id}
		layout, err := bridge.LayoutOf(odd.Desc)
		if err != nil {
			t.Fatal(err)
		}
		im, err = vkalloc.NewImage(openDevice(t, td.id), odd.Desc)
		if err != nil {
			t.Fatal(err)
		}
		got := im.Allocation().Size
		im.Close()
		if got <= layout.Size {
			t.Logf("%v takes %d bytes on %s, no more than its texels", odd.Desc, got, td.caps.DeviceName)
			return
		}
		tight := &Broker{MaxBytesPerConn: layout.Size}
		c := dial(t, testBroker(t, tight))
		if err := refused(t, c, "Vulkan memory larger than its estimate", odd, CodeQuota, bridge.ErrQuota); !strings.Contains(err.Error(), fmt.Sprint(got)) {
			t.Errorf("the refusal does not name the allocation's %d bytes: %v", got, err)
		}
		noUsage(t, tight)
		tight.mu.Lock()
		defer tight.mu.Unlock()
		if len(tight.graveyard) != 0 {
			t.Fatalf("the refused allocation is still in the graveyard")
		}
	})

	t.Run("limits first", func(t *testing.T) {
		// The broker's own limits are checked before the quotas: LIMIT.
		for _, brk := range []*Broker{{MaxResources: 1, MaxResourcesPerConn: 1}, {MaxHandlesPerConn: 1, MaxResourcesPerConn: 1}} {
			c := dial(t, testBroker(t, brk))
			closeResource(mustAllocate(t, c, host(4, 4)))
			refused(t, c, "a resource over the broker's limit and the quota", host(4, 4), CodeLimit, bridge.ErrLimit)
		}
	})

	t.Run("defaults", func(t *testing.T) {
		brk := &Broker{}
		path := testBroker(t, brk)
		c := dial(t, path)
		// 16384×16384 RGBA is 1 GiB of host memory: 9 of them exceed a
		// connection's default of 8 GiB, and are refused before anything
		// is allocated.
		big := host(bridge.MaxTextureDimension, bridge.MaxTextureDimension)
		big.Desc.DepthOrArraySize = 9
		if DefaultMaxBytesPerConn >= 9<<30 {
			t.Fatalf("DefaultMaxBytesPerConn is %d", DefaultMaxBytesPerConn)
		}
		overQuota(t, c, "9 GiB on one connection", big, "connection")
		noUsage(t, brk)
	})
}

// TestAllocateQuotaConcurrent: connections of one uid that allocate at
// once cannot together pass its quota: the broker books each allocation
// before it makes it, so exactly the quota's worth succeed.
func TestAllocateQuotaConcurrent(t *testing.T) {
	td := vulkanDevice(t)
	const quota, conns, each = 5, 4, 3
	brk := &Broker{MaxResourcesPerUID: quota}
	path := testBroker(t, brk)
	clients := make([]*Client, conns)
	for i := range clients {
		clients[i] = dial(t, path)
	}
	type outcome struct {
		r   Resource
		err error
	}
	results := make(chan outcome, conns*each)
	for i, c := range clients {
		go func() {
			for j := range each {
				req := AllocateRequest{Desc: bridge.Texture2D(32, 32, rgba), Device: td.id}
				if (i+j)%2 == 1 {
					req = AllocateRequest{Desc: req.Desc, HostMemory: true}
				}
				r, err := c.Allocate(req)
				results <- outcome{r, err}
			}
		}()
	}
	ok := 0
	for range conns * each {
		o := <-results
		switch {
		case o.err == nil:
			ok++
			closeResource(o.r)
		case !errors.Is(o.err, CodeQuota) || !errors.Is(o.err, bridge.ErrQuota):
			t.Errorf("concurrent Allocate: %v, want success or CodeQuota", o.err)
		}
	}
	if l := mustList(t, clients[0]); ok != quota || len(l) != quota {
		t.Fatalf("%d concurrent allocations succeeded and %d resources exist under a quota of %d", ok, len(l), quota)
	}
	for _, c := range clients {
		c.Close()
	}
	c := dial(t, path)
	waitFor(t, "the broker to free the closed connections' resources", func() bool { return len(mustList(t, c)) == 0 })
	brk.mu.Lock()
	defer brk.mu.Unlock()
	if len(brk.uidUsage) != 0 {
		t.Fatalf("with every resource freed the quotas still count %+v", brk.uidUsage)
	}
}

// TestAllocateCreator: the allocating connection is the resource's
// creator, as after a create: it alone updates the private data and
// attaches semaphores (at most MaxSyncObjects, counting those allocated
// with it). When it goes, the resource lives on while another connection
// holds it, with its memory and its data, still charged to the uid.
func TestAllocateCreator(t *testing.T) {
	td := vulkanDevice(t)
	brk := &Broker{}
	path := testBroker(t, brk)
	c, other := dial(t, path), dial(t, path)
	r := mustAllocate(t, c, AllocateRequest{Desc: bridge.Texture2D(16, 16, rgba), HostMemory: true, Data: []byte("first")})
	o := mustOpen(t, other, r.KMT)
	if err := other.UpdateData(r.KMT, []byte("theirs")); !errors.Is(err, CodeAccessDenied) {
		t.Fatalf("UpdateData by an opener: %v, want CodeAccessDenied", err)
	}
	if err := c.UpdateData(r.KMT, []byte("second")); err != nil {
		t.Fatalf("UpdateData by the allocator: %v", err)
	}
	ev := eventfd(t)
	defer unix.Close(ev)
	if err := other.AttachSync(o.KMT, SyncFD{FD: ev}); !errors.Is(err, CodeAccessDenied) {
		t.Fatalf("AttachSync by an opener: %v, want CodeAccessDenied", err)
	}
	for i := range MaxSyncObjects {
		if err := c.AttachSync(r.KMT, SyncFD{FD: ev, Timeline: i == 0}); err != nil {
			t.Fatalf("AttachSync %d by the allocator: %v", i, err)
		}
	}
	if err := c.AttachSync(r.KMT, SyncFD{FD: ev}); !errors.Is(err, CodeLimit) {
		t.Fatalf("AttachSync past %d: %v, want CodeLimit", MaxSyncObjects, err)
	}
	m, err := unix.Mmap(r.FD, 0, int(r.Allocation.Size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	copy(m, pattern(len(m), 9))
	unix.Munmap(m)
	closeResource(r)
	closeResource(o)

	// A device allocation with its semaphores leaves room for no more.
	if td.caps.ExternalSemaphoreFD {
		rs := mustAllocate(t, c, AllocateRequest{Desc: bridge.Texture2D(16, 16, rgba), Device: td.id, Sync: BinarySync})
		closeResource(rs)
		if err := c.AttachSync(rs.KMT, SyncFD{FD: ev}); !errors.Is(err, CodeLimit) {
			t.Fatalf("AttachSync to an allocation with %d semaphores: %v, want CodeLimit", len(rs.Syncs), err)
		}
		closeRefs(t, "", ref{c, rs.KMT})
	}

	c.Close()
	waitFor(t, "the broker to see the allocator go", func() bool {
		l := mustList(t, other)
		return len(l) == 1 && !l[0].CreatorConnected
	})
	if l := mustList(t, other); l[0].Refs != 1 || l[0].AllocatedOn != hostMemoryDevice || len(l[0].Syncs) != MaxSyncObjects {
		t.Fatalf("List after the allocator went: %+v", l)
	}
	again := mustOpen(t, other, r.KMT)
	defer closeResource(again)
	if string(again.Data) != "second" || len(again.Syncs) != MaxSyncObjects || !again.Syncs[0].Timeline {
		t.Fatalf("OpenKMT after the allocator went: %+v", again)
	}
	if got := readAll(t, again.FD, int(r.Allocation.Size)); firstDiff(got, pattern(len(got), 9)) >= 0 {
		t.Fatalf("the host memory lost what the allocator wrote")
	}
	if err := other.UpdateData(r.KMT, nil); !errors.Is(err, CodeAccessDenied) {
		t.Fatalf("UpdateData after the allocator went: %v, want CodeAccessDenied", err)
	}
	brk.mu.Lock()
	charged := 0
	for _, u := range brk.uidUsage {
		charged += u.resources
	}
	brk.mu.Unlock()
	if charged != 1 {
		t.Fatalf("the uid is charged %d resources, want the 1 that outlived its allocator", charged)
	}
	closeRefs(t, "", ref{other, r.KMT}, ref{other, r.KMT})
	if l := mustList(t, other); len(l) != 0 {
		t.Fatalf("List = %+v", l)
	}
}

// TestAllocateBadInput sends malformed ALLOCATE requests as bytes: each
// gets its error code, on the request's id, and the connection is still
// served (a good allocation on it succeeds); nothing is allocated, and no
// fd sent with one is kept.
func TestAllocateBadInput(t *testing.T) {
	td := vulkanDevice(t)
	brk := &Broker{}
	path := testBroker(t, brk)
	good := dial(t, path)
	r := dialRaw(t, brk, path)
	alloc := func(id uint32, f func(q *request)) []byte {
		q := request{header: header{Type: msgAllocate, ID: id}, Desc: bridge.Texture2D(16, 16, rgba), Device: td.id, Data: []byte("xyz")}
		if f != nil {
			f(&q)
		}
		return encodeRequest(q)
	}
	served := func(what string) {
		t.Helper()
		r.send(alloc(900, nil))
		h, p, ok := r.recv()
		if !ok || h.Status != 0 || h.ID != 900 || h.Type != msgAllocate|replyBit || h.NumFDs != 1 || h.Version != protocolVersion {
			t.Fatalf("after %s: good allocate answered %+v (%q), %v", what, h, p, ok)
		}
		rec, err := decodeResourceRecord(p, protocolVersion)
		if err != nil || !rec.ServiceAllocated || string(rec.Data) != "xyz" {
			t.Fatalf("after %s: allocate record %+v, %v", what, rec, err)
		}
		r.send(encodeRequest(request{header: header{Type: msgClose, ID: 901}, Handle: rec.KMT}))
		r.expect("close after "+what, 901, 0)
		if l := mustList(t, good); len(l) != 0 {
			t.Fatalf("after %s: List = %+v", what, l)
		}
	}
	served("warm-up")
	payload := func(m []byte) []byte { return m[headerSize:] }
	for _, c := range []struct {
		what string
		msg  []byte
		code Code
	}{
		{"truncated, length unchanged", alloc(1, nil)[:headerSize+50], CodeBadMessage},
		{"truncated, length adjusted", func() []byte {
			m := alloc(1, nil)[:headerSize+50]
			le.PutUint32(m[12:], 50)
			return m
		}(), CodeBadMessage},
		{"truncated to the header", func() []byte {
			m := alloc(1, nil)[:headerSize]
			le.PutUint32(m[12:], 0)
			return m
		}(), CodeBadMessage},
		{"reserved flag bit 1", func() []byte { m := alloc(1, nil); payload(m)[0] = 2; return m }(), CodeBadMessage},
		{"reserved flag bit 31", func() []byte { m := alloc(1, nil); payload(m)[3] = 0x80; return m }(), CodeBadMessage},
		{"sync count without a kind", alloc(1, func(q *request) { q.SyncCount = 1 }), CodeInvalid},
		{"binary kind with count 0", alloc(1, func(q *request) { q.Kind = syncBinary }), CodeInvalid},
		{"binary kind with count 3", alloc(1, func(q *request) { q.Kind, q.SyncCount = syncBinary, 3 }), CodeInvalid},
		{"timeline kind with count 2", alloc(1, func(q *request) { q.Kind, q.SyncCount = syncTimeline, 2 }), CodeInvalid},
		{"unknown sync kind", alloc(1, func(q *request) { q.Kind, q.SyncCount = 3, 1 }), CodeInvalid},
		{"host memory with semaphores", alloc(1, func(q *request) { q.AllocFlags, q.Kind, q.SyncCount = allocateFlagHostMemory, syncBinary, 1 }), CodeInvalid},
		{"data length says more", func() []byte { m := alloc(1, nil); le.PutUint32(payload(m)[12:], 10); return m }(), CodeBadMessage},
		{"data length says less", func() []byte { m := alloc(1, nil); le.PutUint32(payload(m)[12:], 1); return m }(), CodeBadMessage},
		{"data length over 64 KiB", func() []byte { m := alloc(1, nil); le.PutUint32(payload(m)[12:], MaxPrivateData+1); return m }(), CodeTooLarge},
		{"invalid Desc", alloc(1, func(q *request) { q.Desc.Height = 0 }), CodeInvalidDesc},
		{"unknown device", alloc(1, func(q *request) { q.Device.Device[0] ^= 0xff }), CodeNoDevice},
	} {
		id := uint32(100)
		le.PutUint32(c.msg[8:], id)
		r.send(c.msg)
		r.expect(c.what, id, c.code)
		served(c.what)
	}

	// ALLOCATE is version 2's: in a version-1 request it is a type
	// version 1 does not have, answered in version 1.
	v1 := alloc(7, func(q *request) { q.Version = protocolVersion1 })
	r.send(v1)
	h, _, ok := r.recv()
	if !ok || h.ID != 7 || h.Status != CodeUnknownType || h.Version != protocolVersion1 || h.Type != msgAllocate|replyBit {
		t.Fatalf("version-1 allocate answered %+v, %v; want UNKNOWN_TYPE in version 1", h, ok)
	}
	served("a version-1 allocate")

	// An fd on an allocate is refused, and closed.
	fd := memfd(t, 4096, 3)
	defer unix.Close(fd)
	w := testenv.Watch(t, fd)
	withFD := alloc(8, nil)
	le.PutUint16(withFD[16:], 1)
	r.send(withFD, fd)
	r.expect("allocate with an fd", 8, CodeBadFDs)
	waitFor(t, "the broker to close the fd sent with an allocate", func() bool { return openCount(t, w.File) == w.N })
	w.Kept(t, "a refused allocate")
	served("an allocate with an fd")
	r.send(encodeRequest(request{header: header{Type: msgList, ID: 9}}))
	r.expect("list after the bad allocates", 9, 0)
}

// TestVersion1Served: a version-1 client is answered in version 1: its
// opens and queries of a resource the broker allocated get the version-1
// record (no GL section, no flags), its lists the version-1 entries (no
// origin section), and its errors version 1's codes (CodeInvalid for a
// Desc that fails validation, CodeLimit for a quota), in replies whose
// header says version 1. The same requests in version 2 get version 2's.
func TestVersion1Served(t *testing.T) {
	td := vulkanDevice(t)
	brk := &Broker{}
	path := testBroker(t, brk)
	c := dial(t, path)
	data := []byte("d3d11 private data")
	resources := []Resource{
		mustAllocate(t, c, AllocateRequest{Desc: bridge.Texture2D(67, 33, rgba), Device: td.id, Data: data}),
		mustAllocate(t, c, AllocateRequest{Desc: bridge.Texture2D(16, 16, rgba), HostMemory: true, Data: data}),
	}
	fd := memfd(t, 4096, 5)
	defer unix.Close(fd)
	created, err := c.Create(testAllocation(4096), fd, data)
	if err != nil {
		t.Fatal(err)
	}
	resources = append(resources, Resource{KMT: created, Allocation: testAllocation(4096), FD: -1})
	for _, res := range resources {
		closeResource(res)
	}
	r := dialRaw(t, brk, path)
	for _, res := range resources {
		kmt := res.KMT
		for _, typ := range []msgType{msgOpenKMT, msgQuery} {
			h, rec, p := rawRecord(t, r, typ, kmt, protocolVersion1)
			wantFDs := uint16(0)
			if typ == msgOpenKMT {
				wantFDs = 1
			}
			if h.Version != protocolVersion1 || h.NumFDs != wantFDs {
				t.Fatalf("version-1 %v reply: header %+v, want version 1 with %d fds", typ, h, wantFDs)
			}
			want := appendResourceRecord(nil, resourceRecord{Version: protocolVersion1, Handle: kmt, KMT: kmt, Access: bridge.AccessReadWrite, Alloc: res.Allocation, Data: data})
			if !bytes.Equal(p, want) || len(p) != 24+allocationSize+len(data) || le.Uint32(p[20:]) != 0 {
				t.Fatalf("version-1 %v record of %v:\n got %x\nwant %x", typ, kmt, p, want)
			}
			if rec.Alloc != res.Allocation || rec.ServiceAllocated || !bytes.Equal(rec.Data, data) {
				t.Fatalf("version-1 record decodes to %+v", rec)
			}
			// In version 2 the same request gets the GL section and the flag.
			h, rec, _ = rawRecord(t, r, typ, kmt, protocolVersion)
			if h.Version != protocolVersion || rec.ServiceAllocated != (kmt != created) || rec.GL.Tex != wantGLSection(t, res.Allocation).Tex {
				t.Fatalf("version-2 %v: header %+v, record %+v", typ, h, rec)
			}
		}
	}
	// Lists: version 1's entries have no origin section.
	for _, v := range []uint16{protocolVersion1, protocolVersion} {
		r.send(encodeRequest(request{header: header{Type: msgList, ID: 600, Version: v}, ListFlags: listFlagSyncState}))
		h, p, ok := r.recv()
		if !ok || h.Status != 0 || h.Version != v {
			t.Fatalf("version-%d list: %+v, %v", v, h, ok)
		}
		_, entries, err := decodeListReply(p, true, v)
		if err != nil || len(entries) != 3 {
			t.Fatalf("version-%d list reply: %d entries, %v", v, len(entries), err)
		}
		wantOn := []string{td.caps.DeviceName, hostMemoryDevice, ""}
		for i, e := range entries {
			if v == protocolVersion1 && (e.ServiceAllocated || e.AllocDevice != "") {
				t.Errorf("version-1 list entry %d has an origin: %+v", i, e)
			}
			if v == protocolVersion && (e.AllocDevice != wantOn[i] || e.ServiceAllocated != (i < 2)) {
				t.Errorf("version-2 list entry %d: allocated on %q (service %v), want %q", i, e.AllocDevice, e.ServiceAllocated, wantOn[i])
			}
		}
	}
	// Version 1's codes.
	bad := testAllocation(4096)
	bad.Desc.Width = 0
	for _, v := range []uint16{protocolVersion1, protocolVersion} {
		r.send(encodeRequest(request{header: header{Type: msgCreate, ID: 700, Version: v}, Alloc: bad}), fd)
		h, p, ok := r.recv()
		want := map[uint16]Code{protocolVersion1: CodeInvalid, protocolVersion: CodeInvalidDesc}[v]
		if !ok || h.ID != 700 || h.Status != want || h.Version != v || !strings.Contains(string(p), "Width = 0") {
			t.Fatalf("version-%d create with Width 0: %+v (%q), want %v in version %d", v, h, p, want, v)
		}
	}
	if l := mustList(t, c); len(l) != 3 {
		t.Fatalf("the refused creates left %d resources", len(l))
	}

	// A reply that comes late, to an ACQUIRE_SYNC that waited (r holds
	// created through its opens above; its mutex was last released with
	// key 0), is in the request's version too.
	for _, v := range []uint16{protocolVersion1, protocolVersion} {
		r.send(encodeRequest(request{header: header{Type: msgAcquireSync, ID: 650, Version: v}, Handle: created, Key: 1, TimeoutMS: 20}))
		h, _, ok := r.recv()
		if !ok || h.ID != 650 || h.Status != CodeTimeout || h.Version != v {
			t.Fatalf("version-%d acquire that waited and timed out: %+v", v, h)
		}
	}

	// Other versions are refused in a reply of version 2, as is a request
	// whose header cannot be read.
	for _, v := range []uint16{0, 3, 0xffff} {
		m := encodeRequest(request{header: header{Type: msgList, ID: 660}})
		le.PutUint16(m[4:], v)
		r.send(m)
		h, _, ok := r.recv()
		if !ok || h.ID != 660 || h.Status != CodeBadVersion || h.Version != protocolVersion {
			t.Fatalf("a version-%d request answered %+v", v, h)
		}
	}
	r.send(encodeRequest(request{header: header{Type: msgList, ID: 661, Version: protocolVersion1}})[:10])
	if h, _, ok := r.recv(); !ok || h.Status != CodeBadMessage || h.Version != protocolVersion || h.ID != 0 {
		t.Fatalf("a short version-1 message answered %+v", h)
	}

	// A quota: LIMIT in version 1, QUOTA in version 2.
	qb := &Broker{MaxResourcesPerConn: 1}
	qr := dialRaw(t, qb, testBroker(t, qb))
	for i, v := range []uint16{protocolVersion1, protocolVersion1, protocolVersion} {
		qr.send(encodeRequest(request{header: header{Type: msgCreate, ID: 800, Version: v}, Alloc: testAllocation(4096)}), fd)
		h, p, ok := qr.recv()
		want := map[uint16]Code{protocolVersion1: CodeLimit, protocolVersion: CodeQuota}[v]
		if i == 0 {
			want = 0
		}
		if !ok || h.ID != 800 || h.Status != want || h.Version != v {
			t.Fatalf("version-%d create %d on a connection with a quota of 1: %+v (%q), want status %d", v, i, h, p, want)
		}
	}
}

// TestAllocateLeak runs allocate/open/free cycles of Vulkan textures,
// host memory and buffers in one process: each frees the resource and,
// where the memory is a file of its own, every fd of it, the broker's
// and its image's included; and the quotas count nothing afterwards.
func TestAllocateLeak(t *testing.T) {
	td := vulkanDevice(t)
	brk := &Broker{}
	path := testBroker(t, brk)
	c, other := dial(t, path), dial(t, path)
	reqs := []AllocateRequest{
		{Desc: bridge.Texture2D(32, 32, rgba), Device: td.id},
		{Desc: bridge.Texture2D(32, 32, rgba), HostMemory: true},
		{Desc: allocKinds[len(allocKinds)-1].desc, Device: td.id},
	}
	for i := range 300 {
		r := mustAllocate(t, c, reqs[i%len(reqs)])
		f, own := memfdFile(t, r.FD)
		o := mustOpen(t, other, r.KMT)
		closeResource(r)
		closeResource(o)
		closeRefs(t, fmt.Sprintf("cycle %d: ", i), ref{c, r.KMT}, ref{other, r.KMT})
		if own {
			// The broker sends its reply before it closes the dup it
			// sent, and frees the image with the last reference.
			waitFor(t, "the memory's fds to close", func() bool { return openCount(t, f) == 0 })
		}
	}
	if l := mustList(t, c); len(l) != 0 {
		t.Fatalf("resources left: %+v", l)
	}
	brk.mu.Lock()
	defer brk.mu.Unlock()
	if len(brk.uidUsage) != 0 || len(brk.graveyard) != 0 {
		t.Fatalf("after the cycles: usage %+v, graveyard %d", brk.uidUsage, len(brk.graveyard))
	}
}

// TestQuotas: Quotas says what the broker applies, defaults for zero
// fields.
func TestQuotas(t *testing.T) {
	if got, want := (&Broker{}).Quotas(), (Quotas{DefaultMaxResourcesPerConn, DefaultMaxResourcesPerUID, DefaultMaxBytesPerConn, DefaultMaxBytesPerUID}); got != want {
		t.Errorf("zero Broker's Quotas = %+v, want %+v", got, want)
	}
	b := &Broker{MaxResourcesPerConn: 3, MaxBytesPerUID: 5}
	if got, want := b.Quotas(), (Quotas{3, DefaultMaxResourcesPerUID, DefaultMaxBytesPerConn, 5}); got != want {
		t.Errorf("Quotas = %+v, want %+v", got, want)
	}
}
