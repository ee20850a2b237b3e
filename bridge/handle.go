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
// AccessWrite: rights as a handle grants them (see Grants for the access
// masks Windows passes).
func (a Access) Valid() bool { return a != 0 && a&^AccessReadWrite == 0 }

// Windows access-mask bits, as D3DKMTShareObjects, OpenSharedResourceByName,
// IDXGIResource1::CreateSharedHandle and D3DKMTOpenNtHandleFromName take
// them (winnt.h, d3dkmthk.h), so that a Direct3D layer passes its dwAccess
// through unchanged. Grants says what each gives.
const (
	// AccessGenericRead is GENERIC_READ, the same bit as
	// DXGI_SHARED_RESOURCE_READ (AccessRead).
	AccessGenericRead Access = 0x80000000
	// AccessGenericWrite is GENERIC_WRITE.
	AccessGenericWrite Access = 0x40000000
	// AccessGenericExecute is GENERIC_EXECUTE.
	AccessGenericExecute Access = 0x20000000
	// AccessGenericAll is GENERIC_ALL, what the Direct3D runtimes pass
	// for a handle of every right.
	AccessGenericAll Access = 0x10000000
	// AccessMaximumAllowed is MAXIMUM_ALLOWED: whatever the handle or
	// name it is made from grants.
	AccessMaximumAllowed Access = 0x02000000
	// AccessDelete, AccessReadControl, AccessWriteDAC, AccessWriteOwner
	// and AccessSynchronize are the standard rights.
	AccessDelete      Access = 0x00010000
	AccessReadControl Access = 0x00020000
	AccessWriteDAC    Access = 0x00040000
	AccessWriteOwner  Access = 0x00080000
	AccessSynchronize Access = 0x00100000
	// AccessStandardRightsRequired is STANDARD_RIGHTS_REQUIRED (DELETE,
	// READ_CONTROL, WRITE_DAC, WRITE_OWNER); AccessStandardRightsAll adds
	// SYNCHRONIZE. STANDARD_RIGHTS_READ, _WRITE and _EXECUTE are all
	// READ_CONTROL.
	AccessStandardRightsRequired Access = 0x000f0000
	AccessStandardRightsAll      Access = 0x001f0000
	AccessStandardRightsRead     Access = AccessReadControl
	AccessStandardRightsWrite    Access = AccessReadControl
	AccessStandardRightsExecute  Access = AccessReadControl
	// AccessSharedAllocationWrite is SHARED_ALLOCATION_WRITE, the same
	// bit as DXGI_SHARED_RESOURCE_WRITE (AccessWrite), the one specific
	// right of a DxgkSharedResource.
	AccessSharedAllocationWrite Access = 0x00000001
	// AccessSharedAllocationAllAccess is SHARED_ALLOCATION_ALL_ACCESS.
	AccessSharedAllocationAllAccess = AccessStandardRightsRequired | AccessSharedAllocationWrite

	// accessKnown is every bit Grants knows.
	accessKnown = AccessGenericRead | AccessGenericWrite | AccessGenericExecute | AccessGenericAll |
		AccessMaximumAllowed | AccessStandardRightsAll | AccessSharedAllocationWrite
	// accessGrantsWrite are the bits that give the right to write.
	accessGrantsWrite = AccessGenericWrite | AccessGenericAll | AccessSharedAllocationWrite
)

// Grants returns the rights a Windows access mask asks for, in glbridge's
// terms (AccessRead, AccessWrite), as a DxgkSharedResource's generic
// mapping gives them: GENERIC_WRITE, GENERIC_ALL and
// SHARED_ALLOCATION_WRITE (DXGI_SHARED_RESOURCE_WRITE) write;
// GENERIC_READ (DXGI_SHARED_RESOURCE_READ), GENERIC_EXECUTE, GENERIC_ALL
// and every standard right (DELETE, READ_CONTROL, WRITE_DAC,
// WRITE_OWNER, SYNCHRONIZE) read: a handle that may touch the object at
// all may open its memory, which is the same fd either way.
// MAXIMUM_ALLOWED asks for nothing of its own (the broker resolves it
// against what the mask is checked against). known is false when a has
// bits no DxgkSharedResource right has. Grants maps AccessRead,
// AccessWrite and AccessReadWrite to themselves.
func (a Access) Grants() (granted Access, known bool) {
	if a&^accessKnown != 0 {
		return 0, false
	}
	if a&accessGrantsWrite != 0 {
		granted |= AccessWrite
	}
	if a&^(AccessSharedAllocationWrite|AccessGenericWrite|AccessMaximumAllowed) != 0 {
		granted |= AccessRead
	}
	return granted, true
}

// Writes reports whether an access with a may modify the resource.
func (a Access) Writes() bool { return a&AccessWrite != 0 }
