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
// as DXVK reads it (0x68 bytes, the keyed mutex named by the resource's
// global handle when it has one); an opener whose record and descriptor
// disagree is refused with ErrRuntimeDescMismatch.
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
		if keyedWant := d.MiscFlags&d3d.D3D11ResourceMiscSharedKeyedMutex != 0; h.KeyedMutex != keyedWant ||
			keyedWant && (h.KeyedMutexHandle != kmt || h.SyncHandle != kmt) {
			t.Errorf("%v: keyed mutex %v, handles %v %v; want the resource's %v", d, h.KeyedMutex, h.KeyedMutexHandle, h.SyncHandle, kmt)
		}
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
