package bridge

import "fmt"

// Handle names a shared resource: either a KMT global handle, valid in
// every process, or an NT handle, valid only on the broker connection that
// got it. The two kinds are told apart by their bits (see IsKMT and IsNT).
type Handle uint32

// Global (KMT) handles have Wine's D3DKMT shape, (index<<6)|0x40000000|2:
// Wine's tests check that h&0xc0000000 is set and h&0x3f is 2.
const (
	kmtTag   = 0x40000002
	kmtMask  = 0xc000003f
	kmtShift = 6
	// MaxGlobalIndex is the largest index a global handle can carry.
	MaxGlobalIndex = 1<<24 - 1
)

// GlobalHandle returns the KMT global handle of index (at most
// MaxGlobalIndex; a larger index is a programming error and panics).
func GlobalHandle(index uint32) Handle {
	if index > MaxGlobalIndex {
		panic(fmt.Sprintf("bridge: global handle index %#x out of range", index))
	}
	return Handle(index<<kmtShift | kmtTag)
}

// GlobalIndex returns the index a KMT global handle carries; it is
// meaningless for a handle that is not IsKMT.
func (h Handle) GlobalIndex() uint32 { return uint32(h) >> kmtShift & MaxGlobalIndex }

// IsKMT reports whether h has the shape of a KMT global handle. It does not
// say whether such a resource exists.
func (h Handle) IsKMT() bool { return uint32(h)&kmtMask == kmtTag }

// IsNT reports whether h has the shape of an NT handle: a non-zero multiple
// of 4 below 0x40000000, as Windows handle values are.
func (h Handle) IsNT() bool { return h != 0 && h&3 == 0 && h&0xc0000000 == 0 }

// String formats h as hexadecimal, the way Windows tools print handles.
func (h Handle) String() string { return fmt.Sprintf("%#08x", uint32(h)) }

// Access is what an access to a resource does, and what an NT handle
// grants. The bit values are DXGI's DXGI_SHARED_RESOURCE_READ and
// DXGI_SHARED_RESOURCE_WRITE, so a Direct3D layer passes its dwAccess
// through unchanged; GL and Vulkan accesses use AccessRead for a read and
// AccessReadWrite for a write.
type Access uint32

// Access rights.
const (
	AccessRead      Access = 0x80000000
	AccessWrite     Access = 0x00000001
	AccessReadWrite        = AccessRead | AccessWrite
)

// String names the access rights as glshare prints them.
func (a Access) String() string {
	if n, ok := accessNames[a]; ok {
		return n
	}
	return fmt.Sprintf("access(%#x)", uint32(a))
}

var accessNames = map[Access]string{AccessRead: "r", AccessWrite: "w", AccessReadWrite: "rw"}

// Valid reports whether a is a non-empty combination of AccessRead and
// AccessWrite.
func (a Access) Valid() bool { return a != 0 && a&^AccessReadWrite == 0 }

// Writes reports whether an access with a may modify the resource.
func (a Access) Writes() bool { return a&AccessWrite != 0 }
