package d3d

import (
	"encoding/binary"
	"fmt"

	"github.com/glbridge/glbridge/bridge"
)

// The runtime descriptors are the "private runtime data" a Direct3D
// runtime stores with a shared resource (D3DKMTCreateAllocation's
// pPrivateRuntimeData) and an opener reads back with
// D3DKMTQueryResourceInfo or D3DKMTOpenResource2. Windows does not
// document them; the layouts are the ones Wine's tests check on Windows
// (dlls/win32u/tests/d3dkmt.c: struct dxgi_runtime_desc,
// d3d9_runtime_desc, d3d11_runtime_desc, d3d12_runtime_desc and
// test_shared_resources), which DXVK (src/util/util_gdi.h) and
// vkd3d-proton (include/private/vkd3d_d3dkmt.h) copy and read.
// docs/d3d-runtime-descriptors.md has the offsets and what each reader
// takes.
//
// Decoding keeps every field Wine's structs name, the unknown_N ones
// included, so that a decoded descriptor encodes to the bytes it came
// from. Three things are not kept, because no struct names them and no
// reader looks at them: the D3D11 union past the member the dimension
// selects, the padding after D3D12_RESOURCE_DESC's Dimension, and the
// D3D11 part of a version-0 (D3D12-only) descriptor. They are written as
// zeros. The unknown words of the D3D9 union must be zero: Wine's tests
// check that Windows writes them so, for every resource type.

// Sizes of the runtime descriptors, and of the DXGI header each begins
// with. A D3D12 descriptor is a D3D11 one with D3D12 facts after it, and
// its header's Size says 0x68, the size of that D3D11 part.
const (
	DXGISharedHeaderSize = 0x38
	D3D9RuntimeDescSize  = 0x58
	D3D11RuntimeDescSize = 0x68
	D3D12RuntimeDescSize = 0x108
)

// DXGI header versions. D3D10 writes D3D11's descriptor, version 4, with
// its misc flags in D3D11 values. A D3D12 resource that D3D11 can open
// (a simultaneous-access 2D render target) gets version 4 and a D3D11
// description; other D3D12 resources get version 0.
const (
	RuntimeVersionD3D12 = 0
	RuntimeVersionD3D9  = 1
	RuntimeVersionD3D11 = 4
)

// Runtime-private D3DUSAGE bits that D3D9 adds to the usage in its
// descriptor, with the names Wine's tests give them: SURFACE on textures
// and on render-target and depth-stencil surfaces, LOCKABLE on what the
// CPU can lock (dynamic textures, lockable render targets, offscreen
// plain surfaces, buffers), OFFSCREEN on offscreen plain surfaces, which
// have no SURFACE.
const (
	D3DUsageOffscreen = 0x400000
	D3DUsageLockable  = 0x4000000
	D3DUsageSurface   = 0x8000000
)

const d3d9PrivateUsage = D3DUsageOffscreen | D3DUsageLockable | D3DUsageSurface

// mismatch formats "d3d: runtime descriptor mismatch: BASE: why".
func mismatch(base error, format string, args ...any) error {
	return fmt.Errorf("d3d: %w: %w: %s", bridge.ErrRuntimeDescMismatch, base, fmt.Sprintf(format, args...))
}

// API names the Direct3D version that wrote a runtime descriptor, or that
// is to open one.
type API uint32

// APIs with runtime descriptors.
const (
	APID3D9  API = 9
	APID3D11 API = 11
	APID3D12 API = 12
)

// String returns "D3D9", "D3D11" or "D3D12".
func (a API) String() string {
	switch a {
	case APID3D9, APID3D11, APID3D12:
		return fmt.Sprintf("D3D%d", uint32(a))
	}
	return fmt.Sprintf("API(%d)", uint32(a))
}

// DXGISharedHeader is the header every runtime descriptor starts with,
// Wine's struct dxgi_runtime_desc. Readers tell the descriptors apart by
// the blob's length together with Size and Version (see
// ParseRuntimeDesc).
type DXGISharedHeader struct {
	// Size is D3D9RuntimeDescSize for D3D9 and D3D11RuntimeDescSize for
	// D3D11 and D3D12.
	Size uint32
	// Version is RuntimeVersionD3D9, RuntimeVersionD3D11 or
	// RuntimeVersionD3D12.
	Version uint32
	// Width, Height and Format are what a DXGI-level opener sees: D3D9
	// fills them (Format UNKNOWN for cube and volume textures and
	// buffers), D3D11 leaves them zero, D3D12 fills them for render
	// targets only.
	Width  uint32
	Height uint32
	Format bridge.Format
	// Unknown0 is 1 in D3D9 descriptors and 0 in D3D11 ones; Wine's
	// tests leave it unchecked in D3D12 ones.
	Unknown0 uint32
	// Unknown1 is 0 in every descriptor Wine's tests check.
	Unknown1 uint32
	// KeyedMutex says the resource has a keyed mutex, whose global handle
	// and that of its sync object follow. Wine's tests check both have
	// the global (KMT) handle shape; DXVK opens the sync object whenever
	// SyncHandle is non-zero.
	KeyedMutex       bool
	KeyedMutexHandle bridge.Handle
	SyncHandle       bridge.Handle
	// NTShared says the resource is shared through NT handles only.
	NTShared bool
	// Unknown2 and Unknown3 are 0 in every descriptor Wine's tests check;
	// Unknown4 too, except in D3D12 ones, where it is unchecked.
	Unknown2 uint32
	Unknown3 uint32
	Unknown4 uint32
}

// AppendBinary appends the header's 0x38 bytes.
func (h DXGISharedHeader) AppendBinary(b []byte) ([]byte, error) {
	return appendU32(b, h.Size, h.Version, h.Width, h.Height, uint32(h.Format), h.Unknown0, h.Unknown1,
		b2u(h.KeyedMutex), uint32(h.KeyedMutexHandle), uint32(h.SyncHandle), b2u(h.NTShared),
		h.Unknown2, h.Unknown3, h.Unknown4), nil
}

// MarshalBinary returns the header's 0x38 bytes.
func (h DXGISharedHeader) MarshalBinary() ([]byte, error) {
	return h.AppendBinary(make([]byte, 0, DXGISharedHeaderSize))
}

// UnmarshalBinary reads the header at the start of b, which may be a
// whole descriptor: readers look at the header before they know the
// descriptor's kind.
func (h *DXGISharedHeader) UnmarshalBinary(b []byte) error {
	if len(b) < DXGISharedHeaderSize {
		return mismatch(bridge.ErrInvalidDesc, "%#x bytes: shorter than the %#x-byte DXGI header", len(b), DXGISharedHeaderSize)
	}
	r := reader{b: b}
	v, err := readHeader(&r)
	if err != nil {
		return err
	}
	*h = v
	return nil
}

func readHeader(r *reader) (DXGISharedHeader, error) {
	h := DXGISharedHeader{Size: r.u32(), Version: r.u32(), Width: r.u32(), Height: r.u32(), Format: bridge.Format(r.u32()),
		Unknown0: r.u32(), Unknown1: r.u32()}
	km := r.u32()
	h.KeyedMutexHandle, h.SyncHandle = bridge.Handle(r.u32()), bridge.Handle(r.u32())
	nt := r.u32()
	h.Unknown2, h.Unknown3, h.Unknown4 = r.u32(), r.u32(), r.u32()
	// Windows writes 0 or 1; anything else would not survive as a bool.
	if km > 1 || nt > 1 {
		return DXGISharedHeader{}, invalidSource("DXGI shared-resource header", "keyed_mutex = %d, nt_shared = %d: want 0 or 1", km, nt)
	}
	h.KeyedMutex, h.NTShared = km == 1, nt == 1
	return h, nil
}

// kindOf says which descriptor an n-byte blob with header h is, by the
// rules of vkd3d-proton's d3d12_device_open_resource_descriptor (the
// strictest reader; DXVK's takes any blob of 0x68 bytes or more with a
// D3D11 header as D3D11): the length, Size and Version must agree.
func kindOf(n int, h DXGISharedHeader) (API, error) {
	var want string
	switch n {
	case D3D9RuntimeDescSize:
		if h.Size == D3D9RuntimeDescSize && h.Version == RuntimeVersionD3D9 {
			return APID3D9, nil
		}
		want = "size 0x58, version 1"
	case D3D11RuntimeDescSize:
		if h.Size == D3D11RuntimeDescSize && h.Version == RuntimeVersionD3D11 {
			return APID3D11, nil
		}
		want = "size 0x68, version 4"
	case D3D12RuntimeDescSize:
		if h.Size == D3D11RuntimeDescSize && (h.Version == RuntimeVersionD3D12 || h.Version == RuntimeVersionD3D11) {
			return APID3D12, nil
		}
		want = "size 0x68, version 0 or 4"
	default:
		return 0, mismatch(bridge.ErrInvalidDesc, "%#x bytes: runtime descriptors have %#x (D3D9), %#x (D3D11) or %#x (D3D12)",
			n, D3D9RuntimeDescSize, D3D11RuntimeDescSize, D3D12RuntimeDescSize)
	}
	return 0, mismatch(bridge.ErrInvalidDesc, "%#x-byte descriptor with header size %#x, version %d: want %s", n, h.Size, h.Version, want)
}

// parseAs reads the header of b and checks that b is a descriptor of
// kind api.
func parseAs(api API, b []byte) (reader, DXGISharedHeader, error) {
	var h DXGISharedHeader
	if err := h.UnmarshalBinary(b); err != nil {
		return reader{}, h, err
	}
	got, err := kindOf(len(b), h)
	if err == nil && got != api {
		err = mismatch(bridge.ErrInvalidDesc, "a %v descriptor, not %v", got, api)
	}
	return reader{b: b, off: DXGISharedHeaderSize}, h, err
}

// D3D9RuntimeDesc is D3D9's descriptor, Wine's struct d3d9_runtime_desc:
// the header, the D3DFORMAT, the resource type, the usage with D3D9's
// private bits, and a union whose member Type selects. The fields a
// member lacks must be zero.
type D3D9RuntimeDesc struct {
	DXGI   DXGISharedHeader
	Format D3DFormat
	Type   D3DResourceType
	// Usage is the creation usage plus D3DUsageSurface, D3DUsageLockable
	// and D3DUsageOffscreen as D3D9 adds them.
	Usage uint32
	// Width and Height are the texture's or surface's; a cube texture
	// has Height == Width; a buffer has Width in bytes and no Height.
	Width  uint32
	Height uint32
	// Levels and Depth are textures' only; Depth is 0 except for volume
	// textures.
	Levels uint32
	Depth  uint32
	// BufferFormat is buffers' only. Windows writes the vertex buffer's
	// FVF here and 0 for index buffers (Wine's tests), but DXVK's
	// ValidateSharedBuffer compares it with the buffer's D3DFORMAT
	// (D3DFMT_VERTEXDATA, D3DFMT_INDEX16/32) and refuses the resource
	// otherwise; NewD3D9RuntimeDesc follows DXVK unless told otherwise.
	BufferFormat uint32
}

// d3d9Arm places the fields of D3D9RuntimeDesc, in the order Width,
// Height, Levels, Depth, BufferFormat, in the five words of one member of
// the union; -1 is a field the member lacks. The other words are Wine's
// unknown_N.
type d3d9Arm [5]int

var (
	d3d9TextureArm = d3d9Arm{1, 2, 3, 4, -1}   // unknown_0, width, height, levels, depth
	d3d9SurfaceArm = d3d9Arm{3, 4, -1, -1, -1} // unknown_0..2, width, height
	d3d9BufferArm  = d3d9Arm{1, -1, -1, -1, 2} // unknown_0, width, format, unknown_1..2
)

var d3d9ArmFields = [5]string{"Width", "Height", "Levels", "Depth", "BufferFormat"}

func d3d9ArmOf(t D3DResourceType) (d3d9Arm, error) {
	switch t {
	case D3DRTypeTexture, D3DRTypeCubeTexture, D3DRTypeVolumeTexture:
		return d3d9TextureArm, nil
	case D3DRTypeSurface:
		return d3d9SurfaceArm, nil
	case D3DRTypeVertexBuffer, D3DRTypeIndexBuffer:
		return d3d9BufferArm, nil
	}
	return d3d9Arm{}, invalidSource("D3D9 runtime descriptor", "Type = %v: only textures, surfaces and buffers are shared", t)
}

func (r *D3D9RuntimeDesc) armFields() [5]*uint32 {
	return [5]*uint32{&r.Width, &r.Height, &r.Levels, &r.Depth, &r.BufferFormat}
}

// AppendBinary appends the descriptor's 0x58 bytes.
func (r D3D9RuntimeDesc) AppendBinary(b []byte) ([]byte, error) {
	if _, err := kindOf(D3D9RuntimeDescSize, r.DXGI); err != nil {
		return nil, err
	}
	arm, err := d3d9ArmOf(r.Type)
	if err != nil {
		return nil, err
	}
	var u [5]uint32
	for i, f := range r.armFields() {
		switch {
		case arm[i] >= 0:
			u[arm[i]] = *f
		case *f != 0:
			return nil, notExpressible("D3D9 runtime descriptor", "%s = %d for %v: its member of the union has no such field", d3d9ArmFields[i], *f, r.Type)
		}
	}
	b, _ = r.DXGI.AppendBinary(b)
	return appendU32(appendU32(b, uint32(r.Format), uint32(r.Type), r.Usage), u[:]...), nil
}

// MarshalBinary returns the descriptor's 0x58 bytes.
func (r D3D9RuntimeDesc) MarshalBinary() ([]byte, error) {
	return r.AppendBinary(make([]byte, 0, D3D9RuntimeDescSize))
}

// UnmarshalBinary reads a D3D9 descriptor; b must be one (0x58 bytes,
// header size 0x58, version 1), or the error wraps
// bridge.ErrRuntimeDescMismatch.
func (r *D3D9RuntimeDesc) UnmarshalBinary(b []byte) error {
	rd, h, err := parseAs(APID3D9, b)
	if err != nil {
		return err
	}
	v := D3D9RuntimeDesc{DXGI: h, Format: D3DFormat(rd.u32()), Type: D3DResourceType(rd.u32()), Usage: rd.u32()}
	arm, err := d3d9ArmOf(v.Type)
	if err != nil {
		return err
	}
	var u [5]uint32
	for i := range u {
		u[i] = rd.u32()
	}
	var used [5]bool
	for i, f := range v.armFields() {
		if arm[i] >= 0 {
			*f, used[arm[i]] = u[arm[i]], true
		}
	}
	for i, w := range u {
		if !used[i] && w != 0 {
			return invalidSource("D3D9 runtime descriptor", "union word %d = %#x for %v: Windows writes 0 there", i, w, v.Type)
		}
	}
	*r = v
	return nil
}

// D3D9Desc returns the D3D9 description the descriptor records, in
// D3DPOOL_DEFAULT, without D3D9's private usage bits. LOCKABLE is lost
// with them: it grants CPU reads as well as writes, which bridge.Desc
// cannot give a bound resource. The header's Width and Height must agree
// with the union's, as Wine's tests check Windows writes them.
func (r D3D9RuntimeDesc) D3D9Desc() (D3D9Desc, error) {
	const src = "D3D9 runtime descriptor"
	if _, err := d3d9ArmOf(r.Type); err != nil {
		return D3D9Desc{}, err
	}
	d := D3D9Desc{Format: r.Format, Type: r.Type, Usage: r.Usage &^ d3d9PrivateUsage, Pool: D3DPoolDefault,
		Width: r.Width, Height: r.Height, Depth: max(r.Depth, 1), Levels: r.Levels}
	switch r.Type {
	case D3DRTypeSurface:
		d.Levels = 1
	case D3DRTypeVertexBuffer, D3DRTypeIndexBuffer:
		d.Height, d.Levels = 1, 1
	}
	if r.DXGI.Width != d.Width || r.DXGI.Height != d.Height {
		return D3D9Desc{}, invalidSource(src, "header %dx%d for a %v of %dx%d", r.DXGI.Width, r.DXGI.Height, r.Type, d.Width, d.Height)
	}
	return d, nil
}

// Desc converts the recorded D3D9 description (see D3D9Desc and
// D3D9Desc.Desc).
func (r D3D9RuntimeDesc) Desc() (bridge.Desc, error) {
	d, err := r.D3D9Desc()
	if err != nil {
		return bridge.Desc{}, err
	}
	return d.Desc()
}

// RuntimeOptions are the facts a runtime descriptor records that no
// resource description has. The zero value suits a resource without a
// keyed mutex; a field the API's descriptor has no place for must be
// zero.
type RuntimeOptions struct {
	// KeyedMutex and SyncObject are the global (KMT) handles of the
	// resource's keyed mutex and of its sync object, for D3D11
	// descriptors of resources with D3D11_RESOURCE_MISC_SHARED_KEYEDMUTEX
	// (zero where the writer has none, as DXVK writes them).
	KeyedMutex bridge.Handle
	SyncObject bridge.Handle
	// ResourceSize and ResourceAlign are the D3D12 allocation's size and
	// alignment, which Windows records (vkd3d-proton writes 0). A zero
	// D3D12_RESOURCE_DESC.Alignment becomes ResourceAlign, as Windows
	// writes it.
	ResourceSize  uint32
	ResourceAlign uint32
	// D3D9BufferFormat is the BufferFormat of a D3D9 buffer's descriptor;
	// 0 writes the buffer's D3DFORMAT, which DXVK compares it with (see
	// D3D9RuntimeDesc.BufferFormat). Windows writes the FVF.
	D3D9BufferFormat uint32
}

// check returns an error naming the first field of o that api's
// descriptor cannot record, or whose handle is not a global one.
func (o RuntimeOptions) check(api API, keyedMutex bool) error {
	target := api.String() + " runtime descriptor"
	for _, h := range [...]struct {
		name string
		v    bridge.Handle
	}{{"KeyedMutex", o.KeyedMutex}, {"SyncObject", o.SyncObject}} {
		switch {
		case h.v == 0:
		case !keyedMutex:
			return notExpressible(target, "%s = %v: only a D3D11 resource with D3D11_RESOURCE_MISC_SHARED_KEYEDMUTEX has a keyed mutex", h.name, h.v)
		case !h.v.IsKMT():
			return invalidSource("RuntimeOptions", "%s = %v: want a global (KMT) handle", h.name, h.v)
		}
	}
	if api != APID3D12 && (o.ResourceSize != 0 || o.ResourceAlign != 0) {
		return notExpressible(target, "ResourceSize = %#x, ResourceAlign = %#x: only D3D12 descriptors record them", o.ResourceSize, o.ResourceAlign)
	}
	if api != APID3D9 && o.D3D9BufferFormat != 0 {
		return notExpressible(target, "D3D9BufferFormat = %#x: only D3D9 descriptors record it", o.D3D9BufferFormat)
	}
	return nil
}

// NewD3D9RuntimeDesc writes the descriptor D3D9 records for r, as Wine's
// tests show Windows writing it: the private usage bits added by type
// (see D3DUsageSurface), the header's size for a DXGI-level opener
// (buffers: the byte size by 1), its DXGI format for surfaces and 2D
// textures only, a full mip chain's length for Levels 0.
//
// Not expressible: pools other than DEFAULT, multisampling (the
// descriptor has no field for it), volumes, and any option but
// D3D9BufferFormat.
func NewD3D9RuntimeDesc(r D3D9Desc, o RuntimeOptions) (D3D9RuntimeDesc, error) {
	const target = "D3D9 runtime descriptor"
	if err := o.check(APID3D9, false); err != nil {
		return D3D9RuntimeDesc{}, err
	}
	if r.Pool != D3DPoolDefault {
		return D3D9RuntimeDesc{}, notExpressible(target, "Pool = %v: only D3DPOOL_DEFAULT resources are shared", r.Pool)
	}
	if r.MultiSampleType != D3DMultisampleNone || r.MultiSampleQuality != 0 {
		return D3D9RuntimeDesc{}, notExpressible(target, "MultiSampleType = %d, MultiSampleQuality = %d: the descriptor records no multisampling", r.MultiSampleType, r.MultiSampleQuality)
	}
	if r.Depth > 1 && r.Type != D3DRTypeVolumeTexture {
		return D3D9RuntimeDesc{}, invalidSource("D3D9 description", "Depth = %d for %v", r.Depth, r.Type)
	}
	d := D3D9RuntimeDesc{
		DXGI:   DXGISharedHeader{Size: D3D9RuntimeDescSize, Version: RuntimeVersionD3D9, Unknown0: 1, Width: r.Width, Height: max(r.Height, 1)},
		Format: r.Format, Type: r.Type, Usage: r.Usage, Width: r.Width, Height: max(r.Height, 1),
	}
	lockable := uint32(0)
	if r.Usage&D3DUsageDynamic != 0 {
		lockable = D3DUsageLockable
	}
	levels := func(dim bridge.Dimension, depth uint32) uint32 {
		if r.Levels != 0 {
			return r.Levels
		}
		return bridge.Desc{Dimension: dim, Width: r.Width, Height: d.Height, DepthOrArraySize: depth}.MaxMipLevels()
	}
	switch r.Type {
	case D3DRTypeTexture:
		d.Usage |= D3DUsageSurface | lockable
		d.Levels = levels(bridge.DimensionTexture2D, 1)
		d.DXGI.Format, _ = D3DFormatToDXGI(r.Format)
	case D3DRTypeCubeTexture:
		d.Usage |= D3DUsageSurface | lockable
		d.Height, d.DXGI.Height = r.Width, r.Width
		d.Levels = levels(bridge.DimensionTextureCube, 1)
	case D3DRTypeVolumeTexture:
		d.Usage |= D3DUsageSurface | lockable
		d.Depth = max(r.Depth, 1)
		d.Levels = levels(bridge.DimensionTexture3D, d.Depth)
	case D3DRTypeSurface:
		if r.Usage&(D3DUsageRenderTarget|D3DUsageDepthStencil) != 0 {
			d.Usage |= D3DUsageSurface | lockable
		} else {
			d.Usage |= D3DUsageLockable | D3DUsageOffscreen
		}
		d.DXGI.Format, _ = D3DFormatToDXGI(r.Format)
	case D3DRTypeVertexBuffer, D3DRTypeIndexBuffer:
		d.Usage |= D3DUsageLockable
		d.Height, d.DXGI.Height = 0, 1
		d.BufferFormat = o.D3D9BufferFormat
		if d.BufferFormat == 0 {
			d.BufferFormat = uint32(r.Format)
		}
	default:
		return D3D9RuntimeDesc{}, notExpressible(target, "Type = %v: only textures, surfaces and buffers are shared", r.Type)
	}
	return d, nil
}

// D3D11RuntimeDesc is D3D11's (and D3D10's) descriptor, Wine's struct
// d3d11_runtime_desc: the header and the resource dimension with a union
// of the descriptions, which D3D11Desc is. Only the member
// Resource.Dimension selects is written.
type D3D11RuntimeDesc struct {
	DXGI     DXGISharedHeader
	Resource D3D11Desc
}

// d3d11UnionWords is the size of the D3D11 union in 32-bit words: that of
// its largest member, D3D11_TEXTURE2D_DESC.
const d3d11UnionWords = 11

// appendD3D11Part appends the dimension and the union of d, the member
// d.Dimension selects padded with zeros.
func appendD3D11Part(b []byte, d D3D11Desc) ([]byte, error) {
	var u []uint32
	switch d.Dimension {
	case ResourceDimensionUnknown:
	case ResourceDimensionBuffer:
		x := d.Buffer
		u = []uint32{x.ByteWidth, uint32(x.Usage), x.BindFlags, x.CPUAccessFlags, x.MiscFlags, x.StructureByteStride}
	case ResourceDimensionTexture1D:
		x := d.Texture1D
		u = []uint32{x.Width, x.MipLevels, x.ArraySize, uint32(x.Format), uint32(x.Usage), x.BindFlags, x.CPUAccessFlags, x.MiscFlags}
	case ResourceDimensionTexture2D:
		x := d.Texture2D
		u = []uint32{x.Width, x.Height, x.MipLevels, x.ArraySize, uint32(x.Format), x.SampleDesc.Count, x.SampleDesc.Quality,
			uint32(x.Usage), x.BindFlags, x.CPUAccessFlags, x.MiscFlags}
	case ResourceDimensionTexture3D:
		x := d.Texture3D
		u = []uint32{x.Width, x.Height, x.Depth, x.MipLevels, uint32(x.Format), uint32(x.Usage), x.BindFlags, x.CPUAccessFlags, x.MiscFlags}
	default:
		return nil, invalidSource("D3D11 runtime descriptor", "Dimension = %v", d.Dimension)
	}
	b = appendU32(appendU32(b, uint32(d.Dimension)), u...)
	return appendU32(b, make([]uint32, d3d11UnionWords-len(u))...), nil
}

// readD3D11Part reads what appendD3D11Part writes; the union past the
// selected member is not read (no reader looks at it).
func readD3D11Part(r *reader) (D3D11Desc, error) {
	d := D3D11Desc{Dimension: ResourceDimension(r.u32())}
	var u [d3d11UnionWords]uint32
	for i := range u {
		u[i] = r.u32()
	}
	switch d.Dimension {
	case ResourceDimensionUnknown:
	case ResourceDimensionBuffer:
		d.Buffer = D3D11BufferDesc{ByteWidth: u[0], Usage: D3D11Usage(u[1]), BindFlags: u[2], CPUAccessFlags: u[3], MiscFlags: u[4], StructureByteStride: u[5]}
	case ResourceDimensionTexture1D:
		d.Texture1D = D3D11Texture1DDesc{Width: u[0], MipLevels: u[1], ArraySize: u[2], Format: bridge.Format(u[3]),
			Usage: D3D11Usage(u[4]), BindFlags: u[5], CPUAccessFlags: u[6], MiscFlags: u[7]}
	case ResourceDimensionTexture2D:
		d.Texture2D = D3D11Texture2DDesc{Width: u[0], Height: u[1], MipLevels: u[2], ArraySize: u[3], Format: bridge.Format(u[4]),
			SampleDesc: SampleDesc{Count: u[5], Quality: u[6]}, Usage: D3D11Usage(u[7]), BindFlags: u[8], CPUAccessFlags: u[9], MiscFlags: u[10]}
	case ResourceDimensionTexture3D:
		d.Texture3D = D3D11Texture3DDesc{Width: u[0], Height: u[1], Depth: u[2], MipLevels: u[3], Format: bridge.Format(u[4]),
			Usage: D3D11Usage(u[5]), BindFlags: u[6], CPUAccessFlags: u[7], MiscFlags: u[8]}
	default:
		return D3D11Desc{}, invalidSource("D3D11 runtime descriptor", "Dimension = %v", d.Dimension)
	}
	return d, nil
}

// AppendBinary appends the descriptor's 0x68 bytes.
func (r D3D11RuntimeDesc) AppendBinary(b []byte) ([]byte, error) {
	if _, err := kindOf(D3D11RuntimeDescSize, r.DXGI); err != nil {
		return nil, err
	}
	b, _ = r.DXGI.AppendBinary(b)
	return appendD3D11Part(b, r.Resource)
}

// MarshalBinary returns the descriptor's 0x68 bytes.
func (r D3D11RuntimeDesc) MarshalBinary() ([]byte, error) {
	return r.AppendBinary(make([]byte, 0, D3D11RuntimeDescSize))
}

// UnmarshalBinary reads a D3D11 descriptor; b must be one (0x68 bytes,
// header size 0x68, version 4), or the error wraps
// bridge.ErrRuntimeDescMismatch.
func (r *D3D11RuntimeDesc) UnmarshalBinary(b []byte) error {
	rd, h, err := parseAs(APID3D11, b)
	if err != nil {
		return err
	}
	d, err := readD3D11Part(&rd)
	if err != nil {
		return err
	}
	*r = D3D11RuntimeDesc{DXGI: h, Resource: d}
	return nil
}

// Desc converts the recorded D3D11 description (see D3D11Desc.Desc).
func (r D3D11RuntimeDesc) Desc() (bridge.Desc, error) { return r.Resource.Desc() }

// miscFlags returns the MiscFlags of the member Dimension selects.
func (r D3D11Desc) miscFlags() uint32 {
	switch r.Dimension {
	case ResourceDimensionBuffer:
		return r.Buffer.MiscFlags
	case ResourceDimensionTexture1D:
		return r.Texture1D.MiscFlags
	case ResourceDimensionTexture2D:
		return r.Texture2D.MiscFlags
	case ResourceDimensionTexture3D:
		return r.Texture3D.MiscFlags
	}
	return 0
}

// NewD3D11RuntimeDesc writes the descriptor D3D11 records for r, as
// DXVK's D3D11CommonTexture::ExportImageInfo writes it and Wine's tests
// show Windows writing it: the header's Width, Height and Format left
// zero, KeyedMutex and NTShared taken from
// D3D11_RESOURCE_MISC_SHARED_KEYEDMUTEX and _SHARED_NTHANDLE, the keyed
// mutex's handles from o.
func NewD3D11RuntimeDesc(r D3D11Desc, o RuntimeOptions) (D3D11RuntimeDesc, error) {
	misc := r.miscFlags()
	km := misc&D3D11ResourceMiscSharedKeyedMutex != 0
	if err := o.check(APID3D11, km); err != nil {
		return D3D11RuntimeDesc{}, err
	}
	if r.Dimension == ResourceDimensionUnknown {
		return D3D11RuntimeDesc{}, invalidSource("D3D11 description", "Dimension = %v", r.Dimension)
	}
	if _, err := appendD3D11Part(nil, r); err != nil {
		return D3D11RuntimeDesc{}, err
	}
	return D3D11RuntimeDesc{DXGI: DXGISharedHeader{
		Size: D3D11RuntimeDescSize, Version: RuntimeVersionD3D11, KeyedMutex: km, KeyedMutexHandle: o.KeyedMutex, SyncHandle: o.SyncObject,
		NTShared: misc&D3D11ResourceMiscSharedNTHandle != 0,
	}, Resource: r}, nil
}

// D3D12MipRegion is D3D12_MIP_REGION, D3D12_RESOURCE_DESC1's sampler
// feedback mip region.
type D3D12MipRegion struct {
	Width  uint32
	Height uint32
	Depth  uint32
}

// D3D12RuntimeDesc is D3D12's descriptor, Wine's struct
// d3d12_runtime_desc: a D3D11 descriptor (its header's Version 0, or 4
// when D3D11 can open the resource through the D3D11 description), the
// allocation's size and alignment, and D3D12_RESOURCE_DESC1, which is
// what vkd3d-proton opens the resource with. The words between are
// Windows' and unknown; they are kept as read.
type D3D12RuntimeDesc struct {
	// D3D11 is the D3D11 part; its Resource is written and read only
	// with Version 4 and is zero otherwise.
	D3D11         D3D11RuntimeDesc
	Unknown5      [4]uint32
	ResourceSize  uint32
	Unknown6      [7]uint32
	ResourceAlign uint32
	Unknown7      [9]uint32
	Resource      D3D12ResourceDesc
	// SamplerFeedbackMipRegion is D3D12_RESOURCE_DESC1's; zero for every
	// resource that can be shared.
	SamplerFeedbackMipRegion D3D12MipRegion
	Unknown8                 uint64
}

// AppendBinary appends the descriptor's 0x108 bytes.
func (r D3D12RuntimeDesc) AppendBinary(b []byte) ([]byte, error) {
	if _, err := kindOf(D3D12RuntimeDescSize, r.D3D11.DXGI); err != nil {
		return nil, err
	}
	var d11 D3D11Desc
	if r.D3D11.DXGI.Version == RuntimeVersionD3D11 {
		d11 = r.D3D11.Resource
	}
	b, _ = r.D3D11.DXGI.AppendBinary(b)
	b, err := appendD3D11Part(b, d11)
	if err != nil {
		return nil, err
	}
	b = appendU32(appendU32(b, r.Unknown5[:]...), r.ResourceSize)
	b = appendU32(appendU32(b, r.Unknown6[:]...), r.ResourceAlign)
	b = appendU32(b, r.Unknown7[:]...)
	d := r.Resource
	// D3D12_RESOURCE_DESC1: Dimension, 4 bytes of padding before the
	// 64-bit Alignment, then Width, Height, DepthOrArraySize and
	// MipLevels (16-bit), Format, SampleDesc, Layout, Flags, the mip
	// region: 0x40 bytes.
	b = appendU32(b, uint32(d.Dimension), 0)
	b = binary.LittleEndian.AppendUint64(b, d.Alignment)
	b = binary.LittleEndian.AppendUint64(b, d.Width)
	b = appendU32(b, d.Height)
	b = binary.LittleEndian.AppendUint16(b, d.DepthOrArraySize)
	b = binary.LittleEndian.AppendUint16(b, d.MipLevels)
	m := r.SamplerFeedbackMipRegion
	b = appendU32(b, uint32(d.Format), d.SampleDesc.Count, d.SampleDesc.Quality, uint32(d.Layout), d.Flags, m.Width, m.Height, m.Depth)
	return binary.LittleEndian.AppendUint64(b, r.Unknown8), nil
}

// MarshalBinary returns the descriptor's 0x108 bytes.
func (r D3D12RuntimeDesc) MarshalBinary() ([]byte, error) {
	return r.AppendBinary(make([]byte, 0, D3D12RuntimeDescSize))
}

// UnmarshalBinary reads a D3D12 descriptor; b must be one (0x108 bytes,
// header size 0x68, version 0 or 4), or the error wraps
// bridge.ErrRuntimeDescMismatch.
func (r *D3D12RuntimeDesc) UnmarshalBinary(b []byte) error {
	rd, h, err := parseAs(APID3D12, b)
	if err != nil {
		return err
	}
	v := D3D12RuntimeDesc{D3D11: D3D11RuntimeDesc{DXGI: h}}
	if h.Version == RuntimeVersionD3D11 {
		if v.D3D11.Resource, err = readD3D11Part(&rd); err != nil {
			return err
		}
	} else {
		// Wine's tests do not check the D3D11 part of a version-0
		// descriptor, vkd3d-proton writes zeros there, no reader reads it.
		rd.off = D3D11RuntimeDescSize
	}
	for i := range v.Unknown5 {
		v.Unknown5[i] = rd.u32()
	}
	v.ResourceSize = rd.u32()
	for i := range v.Unknown6 {
		v.Unknown6[i] = rd.u32()
	}
	v.ResourceAlign = rd.u32()
	for i := range v.Unknown7 {
		v.Unknown7[i] = rd.u32()
	}
	d := &v.Resource
	d.Dimension = ResourceDimension(rd.u32())
	rd.u32() // padding
	d.Alignment, d.Width, d.Height = rd.u64(), rd.u64(), rd.u32()
	d.DepthOrArraySize, d.MipLevels = rd.u16(), rd.u16()
	d.Format, d.SampleDesc = bridge.Format(rd.u32()), SampleDesc{Count: rd.u32(), Quality: rd.u32()}
	d.Layout, d.Flags = D3D12TextureLayout(rd.u32()), rd.u32()
	v.SamplerFeedbackMipRegion = D3D12MipRegion{Width: rd.u32(), Height: rd.u32(), Depth: rd.u32()}
	v.Unknown8 = rd.u64()
	*r = v
	return nil
}

// Desc converts the recorded D3D12_RESOURCE_DESC1 (see
// D3D12ResourceDesc.Desc); a sampler feedback mip region is not
// expressible.
func (r D3D12RuntimeDesc) Desc() (bridge.Desc, error) {
	if m := r.SamplerFeedbackMipRegion; m != (D3D12MipRegion{}) {
		return bridge.Desc{}, notExpressible("bridge.Desc", "D3D12_RESOURCE_DESC1 SamplerFeedbackMipRegion = %dx%dx%d: sampler feedback maps cannot be shared", m.Width, m.Height, m.Depth)
	}
	return r.Resource.Desc()
}

// NewD3D12RuntimeDesc writes the descriptor D3D12 records for r, as
// vkd3d-proton's d3d12_resource_open_export_kmt writes it and Wine's
// tests show Windows writing it: NTShared (D3D12 shares only through NT
// handles); for ALLOW_RENDER_TARGET resources the header's Width, Height
// and Format; for 2D ones that also ALLOW_SIMULTANEOUS_ACCESS, Version 4
// and the D3D11 description a D3D11 opener uses (default usage, binds
// from the flags, MISC_SHARED | MISC_SHARED_NTHANDLE); Version 0
// otherwise. The allocation's size and alignment come from o.
//
// Not expressible: keyed-mutex handles (D3D12 resources have none),
// D3D9BufferFormat.
func NewD3D12RuntimeDesc(r D3D12ResourceDesc, o RuntimeOptions) (D3D12RuntimeDesc, error) {
	if err := o.check(APID3D12, false); err != nil {
		return D3D12RuntimeDesc{}, err
	}
	d := D3D12RuntimeDesc{ResourceSize: o.ResourceSize, ResourceAlign: o.ResourceAlign, Resource: r}
	if d.Resource.Alignment == 0 {
		d.Resource.Alignment = uint64(o.ResourceAlign)
	}
	h := DXGISharedHeader{Size: D3D11RuntimeDescSize, Version: RuntimeVersionD3D12, NTShared: true}
	if r.Flags&D3D12ResourceFlagAllowRenderTarget != 0 {
		// Render targets are textures, at most 16384 wide.
		h.Width, h.Height, h.Format = uint32(r.Width), r.Height, r.Format
		if r.Flags&D3D12ResourceFlagAllowSimultaneousAccess != 0 && r.Dimension == ResourceDimensionTexture2D {
			// vkd3d-proton also sets version 4 for other dimensions,
			// leaving the D3D11 part empty, which DXVK then refuses; only
			// 2D is known from Windows.
			h.Version = RuntimeVersionD3D11
			bind := uint32(D3D11BindRenderTarget)
			if r.Flags&D3D12ResourceFlagAllowDepthStencil != 0 {
				bind |= D3D11BindDepthStencil
			}
			if r.Flags&D3D12ResourceFlagAllowUnorderedAccess != 0 {
				bind |= D3D11BindUnorderedAccess
			}
			if r.Flags&D3D12ResourceFlagDenyShaderResource == 0 {
				bind |= D3D11BindShaderResource
			}
			d.D3D11.Resource = D3D11Desc{Dimension: ResourceDimensionTexture2D, Texture2D: D3D11Texture2DDesc{
				Width: uint32(r.Width), Height: r.Height, MipLevels: uint32(r.MipLevels), ArraySize: uint32(r.DepthOrArraySize),
				Format: r.Format, SampleDesc: r.SampleDesc, Usage: D3D11UsageDefault, BindFlags: bind,
				MiscFlags: D3D11ResourceMiscShared | D3D11ResourceMiscSharedNTHandle,
			}}
		}
	}
	d.D3D11.DXGI = h
	return d, nil
}

// RuntimeDesc is one runtime descriptor of any kind: API says which
// member holds it.
type RuntimeDesc struct {
	API   API
	D3D9  D3D9RuntimeDesc
	D3D11 D3D11RuntimeDesc
	D3D12 D3D12RuntimeDesc
}

// ParseRuntimeDesc tells which descriptor b is, by its length and its
// header's Size and Version (see DXGISharedHeader), and decodes it. A
// blob that is no descriptor gives an error wrapping
// bridge.ErrRuntimeDescMismatch and bridge.ErrInvalidDesc; a descriptor with a
// malformed body, one wrapping bridge.ErrInvalidDesc.
func ParseRuntimeDesc(b []byte) (RuntimeDesc, error) {
	var h DXGISharedHeader
	if err := h.UnmarshalBinary(b); err != nil {
		return RuntimeDesc{}, err
	}
	api, err := kindOf(len(b), h)
	if err != nil {
		return RuntimeDesc{}, err
	}
	r := RuntimeDesc{API: api}
	switch api {
	case APID3D9:
		err = r.D3D9.UnmarshalBinary(b)
	case APID3D11:
		err = r.D3D11.UnmarshalBinary(b)
	case APID3D12:
		err = r.D3D12.UnmarshalBinary(b)
	}
	if err != nil {
		return RuntimeDesc{}, err
	}
	return r, nil
}

// UnmarshalBinary is ParseRuntimeDesc.
func (r *RuntimeDesc) UnmarshalBinary(b []byte) error {
	v, err := ParseRuntimeDesc(b)
	if err != nil {
		return err
	}
	*r = v
	return nil
}

// AppendBinary appends the descriptor API selects.
func (r RuntimeDesc) AppendBinary(b []byte) ([]byte, error) {
	switch r.API {
	case APID3D9:
		return r.D3D9.AppendBinary(b)
	case APID3D11:
		return r.D3D11.AppendBinary(b)
	case APID3D12:
		return r.D3D12.AppendBinary(b)
	}
	return nil, invalidSource("runtime descriptor", "API = %v", r.API)
}

// MarshalBinary returns the descriptor API selects.
func (r RuntimeDesc) MarshalBinary() ([]byte, error) { return r.AppendBinary(nil) }

// Header returns the DXGI header of the descriptor API selects.
func (r RuntimeDesc) Header() DXGISharedHeader {
	switch r.API {
	case APID3D9:
		return r.D3D9.DXGI
	case APID3D11:
		return r.D3D11.DXGI
	case APID3D12:
		return r.D3D12.D3D11.DXGI
	}
	return DXGISharedHeader{}
}

// Desc converts the descriptor API selects.
func (r RuntimeDesc) Desc() (bridge.Desc, error) {
	switch r.API {
	case APID3D9:
		return r.D3D9.Desc()
	case APID3D11:
		return r.D3D11.Desc()
	case APID3D12:
		return r.D3D12.Desc()
	}
	return bridge.Desc{}, invalidSource("runtime descriptor", "API = %v", r.API)
}

// RuntimeDescFor writes the descriptor api's runtime records for a
// resource described by d: D3D9FromDesc, D3D11FromDesc or D3D12FromDesc,
// then NewD3D9RuntimeDesc, NewD3D11RuntimeDesc or NewD3D12RuntimeDesc.
func RuntimeDescFor(api API, d bridge.Desc, o RuntimeOptions) (RuntimeDesc, error) {
	r := RuntimeDesc{API: api}
	var err error
	switch api {
	case APID3D9:
		var x D3D9Desc
		if x, err = D3D9FromDesc(d); err == nil {
			r.D3D9, err = NewD3D9RuntimeDesc(x, o)
		}
	case APID3D11:
		var x D3D11Desc
		if x, err = D3D11FromDesc(d); err == nil {
			r.D3D11, err = NewD3D11RuntimeDesc(x, o)
		}
	case APID3D12:
		var x D3D12ResourceDesc
		if x, err = D3D12FromDesc(d); err == nil {
			r.D3D12, err = NewD3D12RuntimeDesc(x, o)
		}
	default:
		return RuntimeDesc{}, invalidSource("RuntimeDescFor", "API = %v", api)
	}
	if err != nil {
		return RuntimeDesc{}, err
	}
	return r, nil
}

// CheckOpen reports whether api's runtime opens the resource this
// descriptor describes, through an NT handle (nt) or a KMT global handle,
// by the rules Windows follows in Wine's tests (test_shared_resources);
// the error wraps bridge.ErrRuntimeDescMismatch and bridge.ErrNotExpressible.
//
//   - D3D9 opens D3D9 resources (version 1) through KMT handles. Its
//     further checks depend on the Create* call (type, size, format,
//     usage, as DXVK's ValidateSharedTexture makes them) and are the
//     caller's.
//   - D3D11's OpenSharedResource takes KMT handles of D3D11 resources
//     (version 4) and of D3D9 textures and surfaces that are not depth
//     stencils; OpenSharedResource1 takes NT handles of version 4
//     resources and of any other whose header has a DXGI format (a D3D12
//     render target).
//   - D3D12 opens every resource.
//
// Readers convert less than Windows opens: DXVK's D3D11 only 2D
// textures, D3D9 textures and surfaces; vkd3d-proton D3D12 descriptors,
// D3D11 2D textures, D3D9 textures and surfaces.
func (r RuntimeDesc) CheckOpen(api API, nt bool) error {
	h := r.Header()
	no := func(format string, args ...any) error {
		return mismatch(bridge.ErrNotExpressible, "%v cannot open a %v resource: %s", api, r.API, fmt.Sprintf(format, args...))
	}
	switch api {
	case APID3D9:
		if nt {
			return no("D3D9 opens only KMT global handles")
		}
		if h.Version != RuntimeVersionD3D9 {
			return no("header version %d: D3D9 opens only D3D9 resources", h.Version)
		}
	case APID3D11:
		switch {
		case nt && h.Version != RuntimeVersionD3D11 && h.Format == bridge.FormatUnknown:
			return no("header version %d without a DXGI format", h.Version)
		case nt:
		case h.Version == RuntimeVersionD3D11:
		case h.Version != RuntimeVersionD3D9:
			return no("header version %d through a KMT handle", h.Version)
		case r.D3D9.Type != D3DRTypeTexture && r.D3D9.Type != D3DRTypeSurface:
			return no("Type = %v: D3D11 opens D3D9 textures and surfaces only", r.D3D9.Type)
		case r.D3D9.Usage&D3DUsageDepthStencil != 0:
			return no("Usage = %#x: D3D11 does not open D3D9 depth stencils", r.D3D9.Usage)
		}
	case APID3D12:
	default:
		return invalidSource("CheckOpen", "API = %v", api)
	}
	return nil
}

// appendU32 appends each v little-endian.
func appendU32(b []byte, v ...uint32) []byte {
	for _, x := range v {
		b = binary.LittleEndian.AppendUint32(b, x)
	}
	return b
}

func b2u(v bool) uint32 {
	if v {
		return 1
	}
	return 0
}

// reader reads little-endian values from b at off; its callers have
// checked b's length.
type reader struct {
	b   []byte
	off int
}

func (r *reader) u16() uint16 {
	v := binary.LittleEndian.Uint16(r.b[r.off:])
	r.off += 2
	return v
}

func (r *reader) u32() uint32 {
	v := binary.LittleEndian.Uint32(r.b[r.off:])
	r.off += 4
	return v
}

func (r *reader) u64() uint64 {
	v := binary.LittleEndian.Uint64(r.b[r.off:])
	r.off += 8
	return v
}
