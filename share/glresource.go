package share

import (
	"fmt"
	"time"

	"github.com/go-gl/gl/v3.2-compatibility/gl"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/bridge/broker"
	"github.com/glbridge/glbridge/glimport"
	"github.com/glbridge/glbridge/handoff"
	"github.com/glbridge/glbridge/helperdev"
	"github.com/glbridge/glbridge/internal/glutil"
	"github.com/glbridge/glbridge/vkalloc"
)

// GLResource is a shared texture as GL sees it: on the zero-copy path a
// texture whose storage is the shared memory, on a copy path a texture of
// its own that BeginAccess fills from the shared memory and EndAccess (or
// ReleaseSync) writes back. The caller uses Texture() the same way on
// every path, inside BeginAccess/EndAccess or AcquireSync/ReleaseSync;
// hints (BeginAccessWith, AcquireSyncWith) tell a copy path what it need
// not move.
//
// Its methods run on the GL context's thread. Accesses must not overlap:
// BeginAccess while an access is open is a programming error and panics.
type GLResource struct {
	resource
	g *GL

	// Zero-copy: the memory object and texture, and the Vulkan image
	// when this side allocated the memory.
	img  *vkalloc.Image
	mem  *glimport.Memory
	ztex *glimport.Texture

	// Copy: GL's own texture, and the pixel buffers its transfers go
	// through, made on first use: the second only when a deferred
	// write-back holds the first while the next transfer needs one, since
	// writing a buffer GL has yet to read back into would lose the frame.
	tex     *glimport.Texture
	pixels  [2]*glutil.PixelBuffer
	pending *pendingWrite
}

// pendingWrite is a write-back DeferWriteBack left for Flush: GL has been
// asked to read the texture back into pb; known and sync are the access's
// (see backing.store). release says a ReleaseSync deferred it, and Flush
// then releases the keyed mutex with key.
type pendingWrite struct {
	pb      *glutil.PixelBuffer
	known   []byte
	sync    vkalloc.Sync
	release bool
	key     uint64
}

// importZeroCopy imports r.fd into GL as r.alloc says.
func (r *GLResource) importZeroCopy() error {
	if err := glimport.CheckTexture(r.alloc); err != nil {
		return err
	}
	mem, err := glimport.ImportMemory(r.alloc, r.fd)
	if err != nil {
		return err
	}
	tex, err := mem.Texture(r.alloc)
	if err != nil {
		mem.Close()
		return err
	}
	r.path, r.mem, r.ztex = ZeroCopy, mem, tex
	return nil
}

// initCopy sets r up on a copy path over b, with a texture of GL's own.
func (r *GLResource) initCopy(b backing, l bridge.HostLayout, path Path, why string) error {
	// The texture holds the format's Direct3D bytes, as host memory does.
	tex, err := glimport.NewTexture(hostAllocation(r.alloc.Desc, l))
	if err != nil {
		return err
	}
	r.path, r.reason, r.layout, r.back, r.tex = path, why, l, b, tex
	return nil
}

// Texture returns the GL texture name and target (GL_TEXTURE_2D,
// GL_TEXTURE_2D_ARRAY, GL_TEXTURE_CUBE_MAP...) to use inside an access.
// Its kind, internal format, swizzle and sampler state are the same on
// every path (see glimport.Memory.Texture); on a copy path its contents
// are the shared contents only between BeginAccess and EndAccess.
func (r *GLResource) Texture() (name, target uint32) {
	if r.ztex != nil {
		return r.ztex.Name(), r.ztex.Target()
	}
	return r.tex.Name(), r.tex.Target()
}

// BeginAccess starts an access by this process's GL, ordered after every
// access that ended before it in this process: BeginAccessWith(mode, 0).
// On a copy path it fills the texture from the shared memory. Across
// processes, use AcquireSync instead, which orders through the broker.
func (r *GLResource) BeginAccess(mode bridge.Access) error {
	return r.BeginAccessWith(mode, 0)
}

// BeginAccessWith is BeginAccess with hints of what the access will do:
// with WriteDiscard a copy path skips the fill. A write-back that
// DeferWriteBack left pending is stored first (Flush), except under
// WriteDiscard, whose access needs nothing of the shared memory: it is
// stored when this access ends, after its own read-back has been queued.
// A hint that does not fit mode (WriteDiscard without AccessWrite)
// panics. It runs on the GL thread.
func (r *GLResource) BeginAccessWith(mode bridge.Access, hint AccessHint) error {
	r.beginCheck("BeginAccess")
	checkHint("BeginAccess", mode, hint)
	if r.path != ZeroCopy {
		if err := r.begin(hint, vkalloc.Sync{}); err != nil {
			return fmt.Errorf("share: BeginAccess(%s, %v): %w", mode, hint, err)
		}
	}
	r.open, r.mode, r.hint = true, mode, hint
	return nil
}

// begin starts a copy-path access with hint, filling the texture from the
// shared memory after s.Wait, unless the hint says the access overwrites
// it all.
func (r *GLResource) begin(hint AccessHint, s vkalloc.Sync) error {
	if hint&WriteDiscard != 0 && (r.pending == nil || !r.pending.release) {
		r.known = r.back.view(r.layout)
		return nil
	}
	if err := r.Flush(); err != nil {
		return err
	}
	if hint&WriteDiscard != 0 {
		r.known = r.back.view(r.layout)
		return nil
	}
	return r.fill(s)
}

// EndAccess ends the access BeginAccess began and returns once what GL
// did is in the shared memory: on the zero-copy path it waits until GL
// has finished (a fence); on a copy path, after a writing access, it
// copies the texture back into the shared memory and waits for that,
// storing only what differs from what the memory holds. Another API or
// process may then use the resource at once. The one exception is an
// access begun with DeferWriteBack, which the caller must Flush first.
func (r *GLResource) EndAccess() error {
	if !r.open || r.held {
		panic("share: EndAccess without BeginAccess")
	}
	r.open = false
	var err error
	switch {
	case r.path == ZeroCopy:
		err = handoff.FinishGL()
	case r.mode.Writes():
		_, err = r.writeBack(vkalloc.Sync{}, pendingWrite{})
	}
	r.known = nil
	if err != nil {
		return fmt.Errorf("share: EndAccess: %w", err)
	}
	return nil
}

// Flush stores a write-back that DeferWriteBack left pending, and returns
// once it is in the shared memory (after a deferred ReleaseSync it then
// releases the keyed mutex, even when storing failed, so that the other
// processes are not stuck). Without one it does nothing. It waits for GL
// only as long as GL still reads the texture back. It runs on the GL
// thread.
func (r *GLResource) Flush() error {
	w := r.pending
	if w == nil {
		return nil
	}
	r.pending = nil
	err := r.storePending(w)
	if w.release {
		rerr := r.releaseMutex(w.key, err)
		if err != nil {
			return fmt.Errorf("share: Flush: writing back: %w", err)
		}
		return rerr
	}
	if err != nil {
		return fmt.Errorf("share: Flush: %w", err)
	}
	return nil
}

// fill copies the shared contents into GL's texture.
func (r *GLResource) fill(s vkalloc.Sync) error {
	data, err := r.back.load(r.layout, s)
	if err != nil {
		return err
	}
	pb, err := r.pixelBuffer()
	if err != nil {
		return err
	}
	if err := uploadTexture(r.tex.Name(), r.tex.Target(), r.layout, data, pb); err != nil {
		return err
	}
	r.known = data
	r.moved.filled += r.layout.Size
	return nil
}

// writeBack reads GL's texture back and stores what changed into the
// shared memory with s; mapping the pixel buffer (or glGetTexImage, for
// compressed formats) waits until GL has finished writing the texture,
// so nothing is left pending. Under DeferWriteBack, with a pixel buffer,
// it only queues the read-back and returns deferred: Flush stores it as
// w says (w.release: a ReleaseSync). A write-back pending from before is
// stored after this one is queued, so that the CPU's store of the older
// overlaps GL's read-back of the newer.
func (r *GLResource) writeBack(s vkalloc.Sync, w pendingWrite) (deferred bool, err error) {
	pb, err := r.pixelBuffer()
	if err != nil {
		return false, err
	}
	client, err := readTexture(r.tex.Name(), r.tex.Target(), r.layout, pb)
	if err != nil {
		return false, err
	}
	r.moved.readBack += r.layout.Size
	if err := r.Flush(); err != nil {
		return false, err
	}
	if pb == nil {
		return false, r.storeBack(client, r.known, s)
	}
	w.pb, w.known, w.sync = pb, r.known, s
	if r.hint&DeferWriteBack != 0 {
		r.pending = &w
		return true, nil
	}
	return false, r.storePending(&w)
}

// storePending maps the pixel buffer GL read the texture back into, once
// GL has written it, and stores it.
func (r *GLResource) storePending(w *pendingWrite) error {
	return w.pb.Read(0, int(r.layout.Size), func(data []byte) error {
		return r.storeBack(data, w.known, w.sync)
	})
}

// pixelBuffer returns a pixel buffer of the resource that no pending
// write-back holds, made on first use, or nil for compressed formats, whose transfers go through client memory:
// NVIDIA's compressed cube-face sizes make buffer offsets unreliable.
func (r *GLResource) pixelBuffer() (*glutil.PixelBuffer, error) {
	if r.layout.Info.Compressed {
		return nil, nil
	}
	i := 0
	if r.pending != nil && r.pending.pb == r.pixels[0] {
		i = 1
	}
	if r.pixels[i] == nil {
		pb, err := glutil.NewPixelBuffer(int(r.layout.Size))
		if err != nil {
			return nil, fmt.Errorf("share: %w", err)
		}
		r.pixels[i] = pb
	}
	return r.pixels[i], nil
}

// vulkanDevice is the device that holds this side's Vulkan view of the
// memory, where the keyed mutex's semaphores live: nil for host memory
// and for memory GL imported without a Vulkan image of its own.
func (r *GLResource) vulkanDevice() *helperdev.Device {
	if ib, ok := r.back.(*imageBacking); ok {
		return ib.dev
	}
	if r.img != nil {
		return r.g.dev
	}
	return nil
}

// Attach sets up the resource's keyed mutex through h, a handle of c to
// the resource (what Create or an open returned); syncs are the
// semaphore fds the open returned, which stay the caller's. Then
// AcquireSync and ReleaseSync order this process's accesses with every
// other process's, on every path: the zero-copy path waits for GL as
// handoff.KeyedMutex does, the copy paths copy inside the mutex.
// Share attaches by itself.
func (r *GLResource) Attach(c *broker.Client, h bridge.Handle, syncs []broker.SyncFD) error {
	if r.attached {
		panic("share: Attach of an attached GLResource")
	}
	var err error
	switch {
	case r.path == ZeroCopy:
		r.km, err = handoff.NewKeyedMutexGL(c, h, r.ztex, r.g.id, syncs)
	case r.vulkanDevice() != nil:
		r.km, err = handoff.NewKeyedMutexVulkan(c, h, r.vulkanDevice(), syncs)
	}
	if err != nil {
		return fmt.Errorf("share: Attach: %w", err)
	}
	r.client, r.handle, r.attached = c, h, true
	return nil
}

// Share registers the resource with the broker through c, with private
// runtime data data, and attaches its keyed mutex. With nil data it
// registers the Direct3D runtime descriptor DXVK and vkd3d-proton read,
// in Windows' layout: Direct3D 11's (Direct3D 12's for a resource only it
// can describe). A resource with D3D11_RESOURCE_MISC_SHARED_KEYEDMUTEX
// gets a keyed-mutex object and a sync object of their own, as on
// wineserver, whose global handles the descriptor records and through
// which OpenShared acquires in the other process. Where the Vulkan
// device shares timeline semaphores, one travels with the resource so
// that accesses are ordered on the GPU (and is the sync object's). It
// returns the KMT handle, which c holds until CloseHandle.
func (r *GLResource) Share(c *broker.Client, data []byte) (bridge.Handle, error) {
	return r.register(c, data, r.vulkanDevice(), r.Attach)
}

// AcquireSync acquires the keyed mutex with key (IDXGIKeyedMutex::
// AcquireSync), waiting up to timeout (broker.InfiniteTimeout for ever; a
// timeout is an error wrapping bridge.ErrTimeout), and begins a read-write
// GL access: on a copy path the texture is filled from the shared memory
// written by the previous holder. abandoned says the previous holder died
// holding the mutex (the contents may be half written). Attach (or
// Share) first. It is AcquireSyncWith(key, timeout,
// bridge.AccessReadWrite, 0).
func (r *GLResource) AcquireSync(key uint64, timeout time.Duration) (abandoned bool, err error) {
	return r.AcquireSyncWith(key, timeout, bridge.AccessReadWrite, 0)
}

// AcquireSyncWith is AcquireSync for an access of rights mode with hints,
// which tell a copy path what it need not move: a read-only access
// (bridge.AccessRead) writes nothing back at ReleaseSync, WriteDiscard
// skips the fill, DeferWriteBack defers the write-back and the release
// to Flush. The keyed mutex itself is the same whatever mode says. A
// write-back DeferWriteBack left pending is stored (and its mutex
// released) first. A hint that does not fit mode panics.
func (r *GLResource) AcquireSyncWith(key uint64, timeout time.Duration, mode bridge.Access, hint AccessHint) (abandoned bool, err error) {
	r.beginCheck("AcquireSync")
	checkHint("AcquireSync", mode, hint)
	r.attachCheck()
	if err := r.Flush(); err != nil {
		return false, fmt.Errorf("share: AcquireSync: %w", err)
	}
	var s vkalloc.Sync
	switch {
	case r.path == ZeroCopy:
		abandoned, err = r.km.AcquireGL(key, timeout)
	case r.km != nil:
		s, abandoned, err = r.km.AcquireVulkan(key, timeout)
	default:
		abandoned, err = r.acquireHost(key, timeout)
	}
	if err != nil {
		return false, fmt.Errorf("share: %w", err)
	}
	if r.path != ZeroCopy {
		if hint&WriteDiscard != 0 {
			// Nothing waited for the previous holder: the store does.
			r.heldSync = s
		} else {
			r.heldSync = vkalloc.Sync{Signal: s.Signal}
		}
		if err := r.begin(hint, vkalloc.Sync{Wait: s.Wait}); err != nil {
			// Give the mutex back as it was: nothing was written.
			r.releaseMutex(key, err)
			return false, fmt.Errorf("share: AcquireSync: %w", err)
		}
	}
	r.open, r.held, r.mode, r.hint = true, true, mode, hint
	return abandoned, nil
}

// ReleaseSync ends the access AcquireSync began and releases the keyed
// mutex with key (IDXGIKeyedMutex::ReleaseSync), for whoever acquires key
// next. On a copy path it first writes the texture back into the shared
// memory (after a writing access, and only what changed); if that fails
// the mutex is still released (so the other processes are not stuck) and
// the error returned. Under DeferWriteBack it returns once the read-back
// is queued, and Flush stores it and releases the mutex: until then the
// next holder waits, and never sees the frame half stored.
func (r *GLResource) ReleaseSync(key uint64) error {
	if !r.held {
		panic("share: ReleaseSync without AcquireSync")
	}
	r.open, r.held = false, false
	if r.path == ZeroCopy {
		if err := r.km.ReleaseGL(key); err != nil {
			return fmt.Errorf("share: %w", err)
		}
		return nil
	}
	var werr error
	if r.mode.Writes() {
		var deferred bool
		deferred, werr = r.writeBack(r.heldSync, pendingWrite{release: true, key: key})
		if deferred {
			r.known = nil
			return nil
		}
	} else {
		// Nothing to store, and the fill waited for the previous
		// holder: what the store would have signalled is signalled
		// from here.
		werr = signalFromHost(r.heldSync)
	}
	r.known = nil
	rerr := r.releaseMutex(key, werr)
	if werr != nil {
		return fmt.Errorf("share: ReleaseSync: writing back: %w", werr)
	}
	return rerr
}

// Close deletes the texture and releases the memory, the keyed mutex's
// semaphores and the owned fds; the caller closes its handles and client.
// An access still open is abandoned without writing back; a write-back
// DeferWriteBack left pending is stored first (Flush), and Close returns
// its error. It is idempotent.
func (r *GLResource) Close() error {
	if r.closed {
		return nil
	}
	ferr := r.Flush()
	r.closed, r.open, r.held = true, false, false
	if r.km != nil && r.path == ZeroCopy {
		// GL may still have a semaphore wait or signal queued.
		gl.Finish()
	}
	if r.ztex != nil {
		r.ztex.Close()
		r.mem.Close()
	}
	if r.tex != nil {
		r.tex.Close()
	}
	for _, pb := range r.pixels {
		if pb != nil {
			pb.Close()
		}
	}
	if r.img != nil {
		// GL's view of the memory goes first, and GL must be done with
		// it before Vulkan frees the allocation.
		gl.Finish()
		r.img.Close()
	}
	r.closeShared()
	return ferr
}
