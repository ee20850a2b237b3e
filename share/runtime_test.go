package share_test

import (
	"errors"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/bridge/broker"
	"github.com/glbridge/glbridge/bridge/d3d"
	"github.com/glbridge/glbridge/share"
)

// TestShareWritesRuntimeDescriptor shares resources without private data:
// each must carry the Direct3D 11 runtime descriptor of its description,
// as DXVK reads it (0x68 bytes; for a keyed-mutex resource the global
// handles of its own keyed-mutex object, bound to it, and sync object);
// an opener whose record and descriptor disagree is refused with
// ErrRuntimeDescMismatch.
func TestShareWritesRuntimeDescriptor(t *testing.T) {
	v := testVulkan(t, share.Options{})
	c, err := broker.Dial(startBroker(t))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	plain := desc2D(64, 32, bridge.FormatR8G8B8A8Unorm)
	keyed := plain
	keyed.MiscFlags |= d3d.D3D11ResourceMiscSharedKeyedMutex
	for _, d := range []bridge.Desc{plain, keyed} {
		r, err := v.Create(d)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		kmt, err := r.Share(c, nil)
		if err != nil {
			t.Fatal(err)
		}
		q, err := c.Query(kmt)
		if err != nil {
			t.Fatal(err)
		}
		if len(q.Data) != d3d.D3D11RuntimeDescSize {
			t.Fatalf("%v: %d bytes of private data, want the %#x-byte D3D11 runtime descriptor", d, len(q.Data), d3d.D3D11RuntimeDescSize)
		}
		rd, err := d3d.ParseRuntimeDesc(q.Data)
		if err != nil || rd.API != d3d.APID3D11 {
			t.Fatalf("%v: ParseRuntimeDesc = %v, %v", d, rd.API, err)
		}
		got, err := rd.Desc()
		if err != nil || got.Width != d.Width || got.Height != d.Height || got.Format != d.Format {
			t.Errorf("%v: the descriptor describes %v (%v)", d, got, err)
		}
		h := rd.Header()
		keyedWant := d.MiscFlags&d3d.D3D11ResourceMiscSharedKeyedMutex != 0
		if h.KeyedMutex != keyedWant {
			t.Errorf("%v: keyed mutex %v, want %v", d, h.KeyedMutex, keyedWant)
		}
		if !keyedWant {
			if h.KeyedMutexHandle != 0 || h.SyncHandle != 0 {
				t.Errorf("%v: no keyed mutex, but handles %v %v", d, h.KeyedMutexHandle, h.SyncHandle)
			}
			continue
		}
		// The descriptor names a keyed-mutex object of its own, bound to
		// the resource and to a sync object, both global handles of the
		// D3DKMT shape, as Wine's check_dxgi_runtime_desc checks.
		for _, g := range []bridge.Handle{h.KeyedMutexHandle, h.SyncHandle} {
			if uint32(g)&0xc000003f != 0x40000002 || g == kmt {
				t.Errorf("%v: descriptor handle %v is no global handle of its own (the resource is %v)", d, g, kmt)
			}
		}
		m, err := c.OpenKeyedMutex(h.KeyedMutexHandle)
		if err != nil || m.Resource != kmt || m.Sync != h.SyncHandle {
			t.Fatalf("%v: OpenKeyedMutex(%v) = %+v, %v; want the mutex of %v with sync object %v", d, h.KeyedMutexHandle, m, err, kmt, h.SyncHandle)
		}
		c.CloseHandle(m.KMT)
		// The creator holds both, so that it restores them after a broker
		// restart.
		if _, err := c.GetFence(h.SyncHandle); err != nil {
			t.Errorf("%v: GetFence of the sync object through the creator's reference: %v", d, err)
		}
		f, err := c.OpenFenceKMT(h.SyncHandle)
		if err != nil {
			t.Fatalf("%v: OpenFenceKMT(sync object %v): %v", d, h.SyncHandle, err)
		}
		if f.FD >= 0 {
			unix.Close(f.FD)
		}
		c.CloseHandle(f.Handle)
	}

	// A resource whose descriptor describes another size.
	r, err := v.Create(plain)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	other := plain
	other.Width = 128
	od, err := d3d.RuntimeDescFor(d3d.APID3D11, other, d3d.RuntimeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	data, _ := od.MarshalBinary()
	kmt, err := r.Share(c, data)
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.OpenKMT(kmt)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(res.FD)
	if _, err := v.OpenShared(c, res); !errors.Is(err, bridge.ErrRuntimeDescMismatch) {
		t.Errorf("OpenShared of a resource whose descriptor says 128 wide: %v, want ErrRuntimeDescMismatch", err)
	}
}
