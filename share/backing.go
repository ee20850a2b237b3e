package share

import (
	"bytes"
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/helperdev"
	"github.com/glbridge/glbridge/internal/fdutil"
	"github.com/glbridge/glbridge/vkalloc"
)

// backing is where a copy-path resource's shared contents live: host
// memory or a Vulkan image. The side that copies moves the whole resource,
// in bridge.HostLayout order, in and out of it.
type backing interface {
	// load returns every subresource, laid out as the bridge.HostLayout
	// says. The slice may be the shared memory itself: it is valid until
	// the next store or close, and must not be written.
	load(l bridge.HostLayout, s vkalloc.Sync) ([]byte, error)
	// view returns the contents without copying them where this process
	// sees the memory itself (host memory), as load would; nil where it
	// does not (a Vulkan image), and only a load knows them.
	view(l bridge.HostLayout) []byte
	// store makes the contents data, laid out as load returns it, and
	// returns once the data is in the shared memory, with the number of
	// bytes it wrote. old is what the memory holds now (what load or view
	// returned within the same access, when no other side can have
	// written since), or nil when that is not known: store writes only
	// what differs from old, so that an access that changed nothing
	// writes nothing. s is honoured even when nothing is written: its
	// waits are waited for and its signals signalled from the host.
	store(l bridge.HostLayout, data, old []byte, s vkalloc.Sync) (uint64, error)
	close()
}

// storeChunk is the unit host memory is compared and written in: small
// enough that a frame changed in one corner writes little, large enough
// that the comparison runs at memory speed.
const storeChunk = 64 << 10

// copyChanged copies src into dst (of the same length) where it differs
// from old, chunk by chunk, and returns the bytes copied; old nil copies
// everything. old may be dst itself.
func copyChanged(dst, src, old []byte) uint64 {
	if old == nil {
		return uint64(copy(dst, src))
	}
	var n uint64
	for off := 0; off < len(src); off += storeChunk {
		end := min(off+storeChunk, len(src))
		if !bytes.Equal(src[off:end], old[off:end]) {
			n += uint64(copy(dst[off:end], src[off:end]))
		}
	}
	return n
}

// hostBacking is shared host memory: a memfd, mapped.
type hostBacking struct {
	mem []byte
}

// newHostBacking makes a memfd of size bytes, sealed against shrinking
// and growing so that no process holding it can make another's mapping
// fault, and maps it. The memfd is returned to the caller, who owns it.
func newHostBacking(size uint64) (*hostBacking, int, error) {
	fd, err := fdutil.SealedMemfd("glbridge-shared-resource", size)
	if err != nil {
		return nil, -1, fmt.Errorf("share: %w", err)
	}
	b, err := openHostBacking(fd, size)
	if err != nil {
		unix.Close(fd)
		return nil, -1, err
	}
	return b, fd, nil
}

// openHostBacking maps the host memory behind fd, which stays the
// caller's (the mapping needs no fd). The memory must hold at least size
// bytes: a mapping past the end of a file faults on access.
func openHostBacking(fd int, size uint64) (*hostBacking, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, fmt.Errorf("share: fstat(fd %d): %w", fd, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, fmt.Errorf("share: fd %d (mode %#o) is not host memory: a host-memory record comes with a memfd", fd, st.Mode&unix.S_IFMT)
	}
	if st.Size < 0 || uint64(st.Size) < size {
		return nil, fmt.Errorf("share: fd %d holds %d bytes; the record's layout needs %d", fd, st.Size, size)
	}
	if size == 0 {
		return nil, fmt.Errorf("share: a host-memory resource of 0 bytes")
	}
	mem, err := unix.Mmap(fd, 0, int(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("share: mmap of %d bytes of host memory: %w", size, err)
	}
	return &hostBacking{mem: mem}, nil
}

func (b *hostBacking) load(l bridge.HostLayout, _ vkalloc.Sync) ([]byte, error) {
	return b.mem[:l.Size], nil
}

func (b *hostBacking) view(l bridge.HostLayout) []byte { return b.mem[:l.Size] }

func (b *hostBacking) store(l bridge.HostLayout, data, old []byte, _ vkalloc.Sync) (uint64, error) {
	if uint64(len(data)) != l.Size || (old != nil && len(old) != len(data)) {
		panic(fmt.Sprintf("share: store of %d bytes (old %d) into a layout of %d", len(data), len(old), l.Size))
	}
	return copyChanged(b.mem[:l.Size], data, old), nil
}

func (b *hostBacking) close() {
	if b.mem != nil {
		unix.Munmap(b.mem)
		b.mem = nil
	}
}

// imageBacking is a Vulkan image on some device of this process: the
// shared allocation itself, made here or imported.
type imageBacking struct {
	img *vkalloc.Image
	dev *helperdev.Device
}

// part is the share of sync that the i-th of n submissions gets: the
// first waits, the last signals, so that a sequence of copies is one
// access to whoever orders accesses.
func part(s vkalloc.Sync, i, n int) vkalloc.Sync {
	var p vkalloc.Sync
	if i == 0 {
		p.Wait = s.Wait
	}
	if i == n-1 {
		p.Signal = s.Signal
	}
	return p
}

func (b *imageBacking) load(l bridge.HostLayout, s vkalloc.Sync) ([]byte, error) {
	return readImage(b.img, l, s)
}

func (b *imageBacking) view(bridge.HostLayout) []byte { return nil }

// store writes the subresources whose bytes differ from old: vkalloc
// writes whole subresources.
func (b *imageBacking) store(l bridge.HostLayout, data, old []byte, s vkalloc.Sync) (uint64, error) {
	if uint64(len(data)) != l.Size || (old != nil && len(old) != len(data)) {
		panic(fmt.Sprintf("share: store of %d bytes (old %d) into a layout of %d", len(data), len(old), l.Size))
	}
	var changed []bridge.SubresourceLayout
	var n uint64
	for _, sr := range l.Subresources {
		r := data[sr.Offset : sr.Offset+sr.Size]
		if old == nil || !bytes.Equal(r, old[sr.Offset:sr.Offset+sr.Size]) {
			changed = append(changed, sr)
			n += sr.Size
		}
	}
	if len(changed) == 0 {
		return 0, signalFromHost(s)
	}
	return n, writeSubresources(b.img, changed, data, l, s)
}

// readImage reads every subresource of img into one slice in
// bridge.HostLayout order.
func readImage(img *vkalloc.Image, l bridge.HostLayout, s vkalloc.Sync) ([]byte, error) {
	out := make([]byte, l.Size)
	for i, sr := range l.Subresources {
		px, err := img.ReadPixels(sr.Subresource, part(s, i, len(l.Subresources)))
		if err != nil {
			return nil, fmt.Errorf("share: reading level %d layer %d: %w", sr.Level, sr.Layer, err)
		}
		if uint64(len(px)) != sr.Size {
			return nil, fmt.Errorf("share: level %d layer %d of %s is %d bytes in Vulkan, %d in the host layout (VkFormat %d)",
				sr.Level, sr.Layer, l.Desc.Format, len(px), sr.Size, img.Allocation().VkFormat)
		}
		copy(out[sr.Offset:], px)
	}
	return out, nil
}

// writeImage writes data, in bridge.HostLayout order, into every
// subresource of img.
func writeImage(img *vkalloc.Image, l bridge.HostLayout, data []byte, s vkalloc.Sync) error {
	if uint64(len(data)) != l.Size {
		panic(fmt.Sprintf("share: write of %d bytes into a layout of %d", len(data), l.Size))
	}
	return writeSubresources(img, l.Subresources, data, l, s)
}

// writeSubresources writes the subresources srs of img from data, in
// l's order, as one access to whoever orders accesses (see part).
func writeSubresources(img *vkalloc.Image, srs []bridge.SubresourceLayout, data []byte, l bridge.HostLayout, s vkalloc.Sync) error {
	for i, sr := range srs {
		if err := img.WritePixels(sr.Subresource, data[sr.Offset:sr.Offset+sr.Size], part(s, i, len(srs))); err != nil {
			return fmt.Errorf("share: writing level %d layer %d of %s: %w", sr.Level, sr.Layer, l.Desc.Format, err)
		}
	}
	return nil
}

func (b *imageBacking) close() { b.img.Close() }

// checkImageLayout refuses an image whose texels are not the host
// layout's: the copy path moves bytes unconverted, so the image must be
// in the format's preferred storage.
func checkImageLayout(a bridge.Allocation, l bridge.HostLayout) error {
	if a.VkFormat != l.Info.VkFormat {
		return fmt.Errorf("share: %w: %s stored as VkFormat %d, not its preferred %d, cannot be copied byte for byte", bridge.ErrUnsupportedFormat, a.Desc.Format, a.VkFormat, l.Info.VkFormat)
	}
	return nil
}

// openHostRecord checks a host-memory record against the layout its
// description needs and maps the memory behind fd, which the backing owns
// on success.
func openHostRecord(a bridge.Allocation, fd int) (*hostBacking, error) {
	l, err := bridge.LayoutOf(a.Desc)
	if err != nil {
		return nil, err
	}
	if a.Size < l.Size {
		return nil, fmt.Errorf("host-memory record of %d bytes; %s needs %d", a.Size, a.Desc, l.Size)
	}
	return openHostBacking(fd, l.Size)
}
