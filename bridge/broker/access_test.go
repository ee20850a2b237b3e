package broker

import (
	"errors"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/glbridge/glbridge/bridge"
)

// TestAccessGrants pins the mapping table docs/protocol.md gives ("Access
// rights"): what each Windows access mask grants, and which are refused.
func TestAccessGrants(t *testing.T) {
	r, w, rw := bridge.AccessRead, bridge.AccessWrite, bridge.AccessReadWrite
	for _, c := range []struct {
		mask   bridge.Access
		grants bridge.Access
	}{
		{bridge.AccessGenericAll, rw},
		{bridge.AccessGenericRead, r},
		{bridge.AccessGenericWrite, w},
		{bridge.AccessGenericRead | bridge.AccessGenericWrite, rw},
		{bridge.AccessGenericExecute, r},
		{r, r}, {w, w}, {rw, rw}, // DXGI_SHARED_RESOURCE_READ, _WRITE: themselves
		{bridge.AccessStandardRightsRequired, r},
		{bridge.AccessStandardRightsAll, r},
		{bridge.AccessStandardRightsRead, r},
		{bridge.AccessStandardRightsWrite, r},
		{bridge.AccessSynchronize, r},
		{bridge.AccessDelete, r},
		{bridge.AccessSharedAllocationWrite, w},
		{bridge.AccessSharedAllocationAllAccess, rw},
		{bridge.AccessSharedAllocationAllAccess | bridge.AccessSynchronize, rw},
		{bridge.AccessMaximumAllowed, 0},
		{bridge.AccessGenericWrite | bridge.AccessMaximumAllowed, w},
		{0, 0},
	} {
		got, known := c.mask.Grants()
		if !known || got != c.grants {
			t.Errorf("Access(%#x).Grants() = %v, %v; want %v", uint32(c.mask), got, known, c.grants)
		}
	}
	for _, bad := range []bridge.Access{2, 0x8000, 0xfffe, 0x00200000, 0x01000000, 0x04000000, 0x08000000} {
		if _, known := bad.Grants(); known {
			t.Errorf("Access(%#x).Grants() known, want unknown bits", uint32(bad))
		}
	}

	// grant resolves against what the source grants.
	for _, c := range []struct {
		mask, have, granted, recorded bridge.Access
		code                          Code
	}{
		{bridge.AccessGenericAll, rw, rw, bridge.AccessGenericAll, 0},
		{bridge.AccessGenericAll, r, 0, 0, CodeAccessDenied},
		{bridge.AccessMaximumAllowed, r, r, r, 0},
		{bridge.AccessMaximumAllowed | bridge.AccessSynchronize, rw, rw, bridge.AccessSynchronize | rw, 0},
		{bridge.AccessMaximumAllowed | bridge.AccessGenericWrite, r, 0, 0, CodeAccessDenied},
		{bridge.AccessStandardRightsRead, r, r, bridge.AccessStandardRightsRead, 0},
		{0, rw, 0, 0, CodeAccessDenied},
		{4, rw, 0, 0, CodeInvalid},
	} {
		g, rec, err := grant(c.mask, c.have)
		if c.code != 0 {
			if !errors.Is(err, c.code) {
				t.Errorf("grant(%#x, %v) = %v, %v, %v; want %v", uint32(c.mask), c.have, g, rec, err, c.code)
			}
			continue
		}
		if err != nil || g != c.granted || rec != c.recorded {
			t.Errorf("grant(%#x, %v) = %v, %#x, %v; want %v, %#x", uint32(c.mask), c.have, g, uint32(rec), err, c.granted, uint32(c.recorded))
		}
		if again, _ := rec.Grants(); again != g {
			t.Errorf("grant(%#x, %v): recorded %#x grants %v, not %v", uint32(c.mask), c.have, uint32(rec), again, g)
		}
	}
}

// TestBrokerWindowsAccess: masks as Direct3D passes them, through a real
// broker. GENERIC_ALL and the standard rights open what Wine's d3dkmt
// tests open; the rights granted are reported as read and write; a
// read-only NT handle may use the keyed mutex but not modify the resource.
func TestBrokerWindowsAccess(t *testing.T) {
	path := testBroker(t, &Broker{})
	prod, cons := dial(t, path), dial(t, path)
	fd := memfd(t, 4096, 1)
	defer unix.Close(fd)
	kmt, err := prod.Create(testAllocation(4096), fd, nil)
	if err != nil {
		t.Fatal(err)
	}
	// D3DKMTShareObjects(..., STANDARD_RIGHTS_READ) and CreateSharedHandle(GENERIC_ALL).
	ro, err := prod.Share(kmt, bridge.AccessStandardRightsRead, "ro")
	if err != nil {
		t.Fatal(err)
	}
	all, err := prod.Share(kmt, bridge.AccessGenericAll, "all")
	if err != nil {
		t.Fatal(err)
	}
	for h, want := range map[bridge.Handle]bridge.Access{ro: bridge.AccessRead, all: bridge.AccessReadWrite} {
		if q, err := prod.Query(h); err != nil || q.Access != want {
			t.Errorf("Query(%v) = %v, %v; want access %v", h, q.Access, err, want)
		}
	}
	for _, c := range []struct {
		name string
		mask bridge.Access
		want bridge.Access
		code Code
	}{
		{"all", bridge.AccessGenericAll, bridge.AccessReadWrite, 0},
		{"ALL", bridge.AccessGenericRead, bridge.AccessRead, 0}, // names fold case
		{"all", bridge.AccessSharedAllocationAllAccess, bridge.AccessReadWrite, 0},
		{"all", bridge.AccessGenericWrite, bridge.AccessWrite, 0},
		{"all", bridge.AccessStandardRightsWrite, bridge.AccessRead, 0},
		{"all", 0, 0, CodeAccessDenied},
		// A name grants every right whatever its sharer's handle had, as
		// Windows' named object does (Wine's win32u opens names with
		// GENERIC_ALL).
		{"ro", bridge.AccessGenericAll, bridge.AccessReadWrite, 0},
		{"ro", bridge.AccessMaximumAllowed, bridge.AccessReadWrite, 0},
		{"ro", bridge.AccessSynchronize, bridge.AccessRead, 0},
		{"ro", 0x40, 0, CodeInvalid},
	} {
		r, err := cons.OpenName(c.name, c.mask)
		if c.code != 0 {
			if !errors.Is(err, c.code) {
				t.Errorf("OpenName(%q, %#x) = %+v, %v; want %v", c.name, uint32(c.mask), r, err, c.code)
			}
			continue
		}
		if err != nil || r.Access != c.want {
			t.Fatalf("OpenName(%q, %#x) = %+v, %v; want access %v", c.name, uint32(c.mask), r, err, c.want)
		}
		closeResource(r)
		if err := cons.CloseHandle(r.Handle); err != nil {
			t.Fatal(err)
		}
	}
	// Re-sharing resolves against the handle: a read-only handle gives no
	// GENERIC_ALL, and MAXIMUM_ALLOWED gives what it has.
	if _, err := prod.Share(ro, bridge.AccessGenericAll, ""); !errors.Is(err, CodeAccessDenied) {
		t.Errorf("GENERIC_ALL share of a read-only handle: %v, want CodeAccessDenied", err)
	}
	if h, err := prod.Share(ro, bridge.AccessMaximumAllowed, ""); err != nil {
		t.Errorf("MAXIMUM_ALLOWED share of a read-only handle: %v", err)
	} else if q, err := prod.Query(h); err != nil || q.Access != bridge.AccessRead {
		t.Errorf("MAXIMUM_ALLOWED share of a read-only handle grants %v, %v", q.Access, err)
	}

	// What a read-only handle may do: the keyed mutex (a reader takes it
	// to read), not UPDATE_DATA or ATTACH_SYNC (the creator's, and they
	// change what every opener sees).
	sem := memfd(t, 8, 0)
	defer unix.Close(sem)
	if err := prod.AttachSync(ro, SyncFD{FD: sem, Timeline: true}); !errors.Is(err, CodeAccessDenied) {
		t.Errorf("AttachSync through a read-only NT handle: %v, want CodeAccessDenied", err)
	}
	if err := prod.UpdateData(ro, []byte("x")); !errors.Is(err, CodeAccessDenied) {
		t.Errorf("UpdateData through a read-only NT handle: %v, want CodeAccessDenied", err)
	}
	if err := prod.UpdateData(all, []byte("x")); err != nil {
		t.Errorf("UpdateData through a GENERIC_ALL NT handle: %v", err)
	}
	if err := prod.AttachSync(all, SyncFD{FD: sem, Timeline: true}); err != nil {
		t.Errorf("AttachSync through a GENERIC_ALL NT handle: %v", err)
	}
	mustAcquire(t, prod, ro, 0, 0)
	if err := prod.ReleaseSync(ro, 1, 5); err != nil {
		t.Errorf("ReleaseSync through a read-only NT handle: %v", err)
	}
}
