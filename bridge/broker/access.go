package broker

import (
	"github.com/glbridge/glbridge/bridge"
)

// This file is how the broker reads the access masks a Direct3D layer
// passes through (docs/protocol.md, "Access rights"): Windows' generic,
// standard and DXGI bits, mapped to what glbridge enforces, read and
// write (bridge.Access.Grants).

// grant resolves mask, the access asked for a new NT handle made from a
// handle or name that grants have. It returns what the new handle grants
// and the mask it records (mask itself, with MAXIMUM_ALLOWED replaced by
// what it resolved to, so that the recorded mask grants exactly granted
// again, as a RESTORE of it must). Bits no DxgkSharedResource right has
// are INVALID; a mask that grants nothing (0, as Windows' open by name
// answers STATUS_ACCESS_DENIED) or more than have is ACCESS_DENIED.
func grant(mask, have bridge.Access) (granted, recorded bridge.Access, err error) {
	want, known := mask.Grants()
	switch {
	case !known:
		return 0, 0, perr(CodeInvalid, "access %#x has bits no shared resource right has", uint32(mask))
	case mask == 0:
		return 0, 0, perr(CodeAccessDenied, "access 0 grants nothing")
	case want&^have != 0:
		return 0, 0, perr(CodeAccessDenied, "access %#x asks for %v; the handle or name grants %v", uint32(mask), want, have)
	}
	recorded = mask
	if mask&bridge.AccessMaximumAllowed != 0 {
		want = have
		recorded = mask&^bridge.AccessMaximumAllowed | want
	}
	if want == 0 {
		return 0, 0, perr(CodeAccessDenied, "access %#x grants nothing", uint32(mask))
	}
	return want, recorded, nil
}

// needWrite refuses a request that modifies the resource (UPDATE_DATA,
// ATTACH_SYNC) through a handle that does not grant writing.
func needWrite(h bridge.Handle, have bridge.Access, what string) error {
	if !have.Writes() {
		return perr(CodeAccessDenied, "%v grants %v; %s needs write access", h, have, what)
	}
	return nil
}

// withDetail returns err, an *Error, with prefix before its detail.
func withDetail(err error, prefix string) error {
	e := *err.(*Error)
	e.Detail = prefix + e.Detail
	return &e
}
