package share

import (
	"fmt"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/bridge/broker"
	"github.com/glbridge/glbridge/bridge/d3d"
)

// This file is the private runtime data share writes and checks: the
// Direct3D runtime descriptor (bridge/d3d) that DXVK and vkd3d-proton read
// from a shared resource to know what to open, in Windows' own layout.

// runtimeData is the runtime descriptor Share registers for a resource of
// desc when the caller gives none: Direct3D 11's, which DXGI-based
// openers (D3D10, D3D11, D3D12 through OpenSharedHandle) read, unless it
// cannot say what desc is (a D3D12-only resource), then Direct3D 12's.
// mutex and sync are the global handles of the resource's keyed-mutex
// object and of its sync object, which a descriptor of a resource with
// D3D11_RESOURCE_MISC_SHARED_KEYEDMUTEX records (0 before the broker has
// handed them out). It is nil when no runtime can describe the resource,
// which then goes without private data, as a resource of a GL-only
// process has none.
func runtimeData(desc bridge.Desc, mutex, sync bridge.Handle) []byte {
	for _, api := range []d3d.API{d3d.APID3D11, d3d.APID3D12} {
		var o d3d.RuntimeOptions
		if api == d3d.APID3D11 && keyedMutexHandles(desc) {
			o.KeyedMutex, o.SyncObject = mutex, sync
		}
		r, err := d3d.RuntimeDescFor(api, desc, o)
		if err != nil {
			continue
		}
		if b, err := r.MarshalBinary(); err == nil {
			return b
		}
	}
	return nil
}

// keyedMutexHandles says whether desc's descriptor records its keyed
// mutex's handles, which exist only once the broker has registered the
// resource: then Share gives it its keyed mutex and writes the
// descriptor again with them.
func keyedMutexHandles(desc bridge.Desc) bool {
	return desc.MiscFlags&d3d.D3D11ResourceMiscSharedKeyedMutex != 0
}

// keyedMutexRefs are the creator's references to the keyed-mutex and sync
// objects giveKeyedMutex made for a resource, released with it.
type keyedMutexRefs struct {
	c           *broker.Client
	mutex, sync bridge.Handle
}

// close releases the references; a broker that has gone released them
// already.
func (k *keyedMutexRefs) close() {
	if k.c == nil {
		return
	}
	k.c.CloseHandle(k.mutex)
	k.c.CloseHandle(k.sync)
	*k = keyedMutexRefs{}
}

// giveKeyedMutex gives the resource kmt of desc, created through c, its
// keyed mutex as wined3d on wineserver does: a sync object (a fence on
// the timeline semaphore semFD, or kept by the broker for -1, where each
// release raises it to the release's value), a keyed-mutex object bound
// to the resource and to it, and a descriptor that records both. The
// resource holds the mutex and the mutex its sync object; c keeps its
// references too, as the creator's, so that a reconnecting client
// restores both after a broker restart (a client restores what it
// holds), and the returned refs release them. semFD stays the caller's.
func giveKeyedMutex(c *broker.Client, kmt bridge.Handle, desc bridge.Desc, semFD int) (keyedMutexRefs, error) {
	sync, err := c.CreateFence(0, semFD)
	if err != nil {
		return keyedMutexRefs{}, err
	}
	m, err := c.CreateKeyedMutex(kmt, sync, nil)
	if err != nil {
		c.CloseHandle(sync)
		return keyedMutexRefs{}, err
	}
	k := keyedMutexRefs{c: c, mutex: m.KMT, sync: sync}
	if err := c.UpdateData(kmt, runtimeData(desc, m.KMT, sync)); err != nil {
		k.close()
		return keyedMutexRefs{}, err
	}
	return k, nil
}

// openRuntimeData reads res's private data as an opener must: data that
// is a runtime descriptor of another resource than its record is refused
// (checkRuntimeDesc), and the keyed-mutex object it records is opened, as
// DXVK's OpenSharedResource does. It returns the mutex's handle, which c
// then holds, or 0 when there is none to open (data that is no runtime
// descriptor, no keyed mutex, or one written before glbridge had mutex
// objects, which named the resource's own handle).
func openRuntimeData(c *broker.Client, res broker.Resource) (bridge.Handle, error) {
	r, err := d3d.ParseRuntimeDesc(res.Data)
	if err != nil {
		// Data that is no runtime descriptor is the creator's own
		// business and passes.
		return 0, nil
	}
	if err := checkRuntimeDesc(res, r); err != nil {
		return 0, err
	}
	return openKeyedMutex(c, res, r)
}

// openKeyedMutex opens the keyed-mutex object r, res's runtime
// descriptor, records, and returns its handle (0 for none, see
// openRuntimeData). A mutex of another resource is ErrRuntimeDescMismatch.
func openKeyedMutex(c *broker.Client, res broker.Resource, r d3d.RuntimeDesc) (bridge.Handle, error) {
	h := r.Header()
	if !h.KeyedMutex || h.KeyedMutexHandle == 0 || h.KeyedMutexHandle == res.KMT {
		return 0, nil
	}
	m, err := c.OpenKeyedMutex(h.KeyedMutexHandle)
	if err != nil {
		return 0, fmt.Errorf("share: open %v: its keyed mutex %v: %w", res.Handle, h.KeyedMutexHandle, err)
	}
	if m.Resource != res.KMT || m.Sync != h.SyncHandle {
		c.CloseHandle(m.KMT)
		return 0, fmt.Errorf("share: open %v: %w: its descriptor's keyed mutex %v is of resource %v with sync object %v, not of %v with %v",
			res.Handle, bridge.ErrRuntimeDescMismatch, m.KMT, m.Resource, m.Sync, res.KMT, h.SyncHandle)
	}
	return m.KMT, nil
}

// checkRuntimeDesc refuses to open res when r, its runtime descriptor,
// describes another resource than its record: an opener trusts the
// descriptor (DXVK builds its view from it), so a mismatch means the
// data, or the record, is not what the creator registered.
func checkRuntimeDesc(res broker.Resource, r d3d.RuntimeDesc) error {
	got, err := r.Desc()
	if err != nil {
		return nil
	}
	want := res.Allocation.Desc
	if got.Dimension != want.Dimension || got.Width != want.Width || got.Height != want.Height ||
		got.DepthOrArraySize != want.DepthOrArraySize || got.MipLevels != want.MipLevels || got.Format != want.Format {
		return fmt.Errorf("share: open %v: %w: its %v runtime descriptor says %v, its record %v", res.Handle, bridge.ErrRuntimeDescMismatch, r.API, got, want)
	}
	return nil
}
