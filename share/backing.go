package share

import (
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
	// store replaces the contents with data, laid out as load returns
	// it, and returns once the data is in the shared memory.
	store(l bridge.HostLayout, data []byte, s vkalloc.Sync) error
	close()
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

func (b *hostBacking) store(l bridge.HostLayout, data []byte, _ vkalloc.Sync) error {
	if uint64(len(data)) != l.Size {
		panic(fmt.Sprintf("share: store of %d bytes into a layout of %d", len(data), l.Size))
	}
	copy(b.mem, data)
	return nil
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

func (b *imageBacking) store(l bridge.HostLayout, data []byte, s vkalloc.Sync) error {
	return writeImage(b.img, l, data, s)
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
	for i, sr := range l.Subresources {
		if err := img.WritePixels(sr.Subresource, data[sr.Offset:sr.Offset+sr.Size], part(s, i, len(l.Subresources))); err != nil {
			return fmt.Errorf("share: writing level %d layer %d: %w", sr.Level, sr.Layer, err)
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
