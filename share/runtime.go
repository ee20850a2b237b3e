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
// kmt is the resource's global handle: the broker keeps the keyed mutex
// with its resource, so the resource's handle is also its keyed mutex's
// and sync object's in a descriptor that records them (0 before the
// broker has handed one out). It is nil when no runtime can describe the
// resource, which then goes without private data, as a resource of a
// GL-only process has none.
func runtimeData(desc bridge.Desc, kmt bridge.Handle) []byte {
	for _, api := range []d3d.API{d3d.APID3D11, d3d.APID3D12} {
		var o d3d.RuntimeOptions
		if api == d3d.APID3D11 && desc.MiscFlags&d3d.D3D11ResourceMiscSharedKeyedMutex != 0 {
			o.KeyedMutex, o.SyncObject = kmt, kmt
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
// mutex's handles, which are known only once the broker has handed out the
// resource's: then Share writes the descriptor again with them.
func keyedMutexHandles(desc bridge.Desc) bool {
	return desc.MiscFlags&d3d.D3D11ResourceMiscSharedKeyedMutex != 0
}

// checkRuntimeData refuses to open res when its private data is a runtime
// descriptor that describes another resource than its record: an opener
// trusts the descriptor (DXVK builds its view from it), so a mismatch
// means the data, or the record, is not what the creator registered.
// Data that is no runtime descriptor is the creator's own business and
// passes.
func checkRuntimeData(res broker.Resource) error {
	r, err := d3d.ParseRuntimeDesc(res.Data)
	if err != nil {
		return nil
	}
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
