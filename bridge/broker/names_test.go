package broker

import (
	"errors"
	"slices"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/glbridge/glbridge/bridge"
)

// TestResolveName pins how names resolve into the namespace
// (docs/protocol.md, "Names").
func TestResolveName(t *testing.T) {
	for _, c := range []struct {
		name, path string
		session    uint32
	}{
		{`X`, `\Sessions\1\BaseNamedObjects\X`, 1},
		{`Local\X`, `\Sessions\1\BaseNamedObjects\X`, 1},
		{`local\X`, `\Sessions\1\BaseNamedObjects\X`, 1},
		{`Local\X`, `\Sessions\7\BaseNamedObjects\X`, 7},
		{`Global\X`, `\BaseNamedObjects\X`, 1},
		{`GLOBAL\X`, `\BaseNamedObjects\X`, 1},
		{`\BaseNamedObjects\__WineTest_D3DKMT`, `\BaseNamedObjects\__WineTest_D3DKMT`, 1},
		{`\basenamedobjects\x`, `\BaseNamedObjects\x`, 1},
		{`\Sessions\1\BaseNamedObjects\__winetest_d3d11_image`, `\Sessions\1\BaseNamedObjects\__winetest_d3d11_image`, 1},
		{`\sessions\2\basenamedobjects\X`, `\Sessions\2\BaseNamedObjects\X`, 1},
		{`\Sessions\0\BaseNamedObjects\X`, `\BaseNamedObjects\X`, 1},
		{`Session\3\X`, `\Sessions\3\BaseNamedObjects\X`, 1},
		{`Local\X`, `\BaseNamedObjects\X`, 0},
		{`日本 tex`, `\Sessions\1\BaseNamedObjects\日本 tex`, 1},
		{`Globalx`, `\Sessions\1\BaseNamedObjects\Globalx`, 1},
	} {
		n, err := resolveName(c.name, c.session)
		if err != nil || n.path != c.path || n.given != c.name || n.key != foldCase(c.path) {
			t.Errorf("resolveName(%q, %d) = %+v, %v; want path %q", c.name, c.session, n, err, c.path)
		}
	}
	for _, bad := range []string{`Global\`, `Local\`, `\BaseNamedObjects\`, `\Device\X`, `\X`, `Local\a\b`, `a\b`,
		`\Sessions\x\BaseNamedObjects\a`, `\Sessions\01\BaseNamedObjects\a`, `\Sessions\+1\BaseNamedObjects\a`,
		`\Sessions\1\a`, `\Sessions\1\BaseNamedObjects\`, `\Sessions\4294967296\BaseNamedObjects\a`, `Session\X`, `Session\1\`} {
		if n, err := resolveName(bad, 1); !errors.Is(err, CodeBadName) {
			t.Errorf("resolveName(%q) = %+v, %v; want CodeBadName", bad, n, err)
		}
	}
	// One object, however it is written; case folds by Unicode's simple
	// case folding, as Windows' object manager compares names.
	for _, same := range [][]string{
		{`X`, `x`, `Local\x`, `\Sessions\1\BaseNamedObjects\X`, `\SESSIONS\1\BASENAMEDOBJECTS\x`, `Session\1\X`},
		{`Global\X`, `\BaseNamedObjects\x`, `global\x`, `\Sessions\0\BaseNamedObjects\X`},
		{`Ärger`, `äRGER`},
		{`ΣΑΣ`, `σας`, `Σας`},
		{"\u212a", "k", "K"}, // KELVIN SIGN
	} {
		first, _ := resolveName(same[0], 1)
		for _, n := range same[1:] {
			if o, err := resolveName(n, 1); err != nil || o.key != first.key {
				t.Errorf("%q and %q are different names (%q, %q, %v)", same[0], n, first.key, o.key, err)
			}
		}
	}
	x, _ := resolveName(`X`, 1)
	g, _ := resolveName(`Global\X`, 1)
	s2, _ := resolveName(`\Sessions\2\BaseNamedObjects\X`, 1)
	if x.key == g.key || x.key == s2.key || g.key == s2.key {
		t.Errorf("session 1, the global namespace and session 2 share a name: %q %q %q", x.key, g.key, s2.key)
	}
}

// TestBrokerNamespace ports the names of Wine's d3dkmt tests
// (test_D3DKMTShareObjects, test_shared_resources): a name shared as
// \BaseNamedObjects\__WineTest_D3DKMT opens in lower case, an unknown one
// is NOT_FOUND, access 0 is ACCESS_DENIED and GENERIC_ALL opens; a plain
// name (what CreateSharedHandle passes) is the session's and opens by its
// full path. LIST shows the names as given, and the name belongs to one
// resource however it is written.
func TestBrokerNamespace(t *testing.T) {
	path := testBroker(t, &Broker{})
	a, b := dial(t, path), dial(t, path)
	fd := memfd(t, 64, 1)
	defer unix.Close(fd)
	k1, err := a.Create(testAllocation(64), fd, nil)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := b.Create(testAllocation(64), fd, nil)
	if err != nil {
		t.Fatal(err)
	}
	const kmtName, d3d11Name = `\BaseNamedObjects\__WineTest_D3DKMT`, `__winetest_d3d11_image`
	if _, err := a.Share(k1, bridge.AccessStandardRightsRead, kmtName); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Share(k1, bridge.AccessGenericAll, d3d11Name); err != nil {
		t.Fatal(err)
	}
	if _, err := b.OpenName(`\BaseNamedObjects\__winetest_invalid`, bridge.AccessGenericAll); !errors.Is(err, CodeNotFound) {
		t.Errorf("unknown name: %v, want CodeNotFound", err)
	}
	if _, err := b.OpenName(`\BaseNamedObjects\__winetest_d3dkmt`, 0); !errors.Is(err, CodeAccessDenied) {
		t.Errorf("access 0: %v, want CodeAccessDenied", err)
	}
	for _, c := range []struct {
		name string
		mask bridge.Access
	}{
		{`\BaseNamedObjects\__winetest_d3dkmt`, bridge.AccessStandardRightsRead},
		{`Global\__WINETEST_D3DKMT`, bridge.AccessRead},
		{`\Sessions\1\BaseNamedObjects\__winetest_d3d11_image`, bridge.AccessGenericAll},
		{`Local\__WineTest_D3D11_Image`, bridge.AccessGenericAll},
		{`__WINETEST_D3D11_IMAGE`, bridge.AccessGenericAll},
	} {
		r, err := b.OpenName(c.name, c.mask)
		if err != nil || r.KMT != k1 {
			t.Errorf("OpenName(%q, %#x) = %v, %v; want %v", c.name, uint32(c.mask), r.KMT, err, k1)
			continue
		}
		closeResource(r)
	}
	// The session's name is not the global one.
	if _, err := b.OpenName(`Global\__winetest_d3d11_image`, bridge.AccessRead); !errors.Is(err, CodeNotFound) {
		t.Errorf("a session name opened as a global one: %v, want CodeNotFound", err)
	}
	// Taken in any spelling; the same leaf in another namespace is another name.
	for _, n := range []string{`global\__winetest_d3dkmt`, `\Sessions\1\BaseNamedObjects\__WINETEST_D3D11_IMAGE`, `Local\__winetest_d3d11_image`} {
		if _, err := b.Share(k2, bridge.AccessRead, n); !errors.Is(err, CodeNameTaken) {
			t.Errorf("Share(%q) of another resource: %v, want CodeNameTaken", n, err)
		}
	}
	if _, err := b.Share(k2, bridge.AccessRead, `Global\__winetest_d3d11_image`); err != nil {
		t.Errorf("the session's leaf in the global namespace: %v", err)
	}
	if _, err := b.Share(k2, bridge.AccessRead, `\Device\x`); !errors.Is(err, CodeBadName) {
		t.Errorf("a name outside the namespace: %v, want CodeBadName", err)
	}
	l := mustList(t, a)
	for _, e := range l {
		want := []string{`Global\__winetest_d3d11_image`}
		if e.KMT == k1 {
			want = []string{kmtName, d3d11Name}
		}
		if !slices.Equal(e.Names, want) {
			t.Errorf("LIST names of %v = %q, want %q as given", e.KMT, e.Names, want)
		}
	}
}

// TestRestoreNamespace: names come back after a broker restart and open
// in another spelling there.
func TestRestoreNamespace(t *testing.T) {
	b1 := &Broker{}
	path := testBroker(t, b1)
	c, events := reconnecting(t, path)
	fd := memfd(t, 64, 9)
	defer unix.Close(fd)
	kmt, err := c.Create(testAllocation(64), fd, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Share(kmt, bridge.AccessGenericAll, `Local\Restored Tex`); err != nil {
		t.Fatal(err)
	}
	restart(t, b1, path, patience)
	if e := nextEvent(t, events); e.Restored != 1 {
		t.Fatalf("reconnection %+v", e)
	}
	o := dial(t, path)
	r, err := o.OpenName(`\SESSIONS\1\BASENAMEDOBJECTS\restored tex`, bridge.AccessGenericAll)
	if err != nil || r.KMT != kmt || r.Access != bridge.AccessReadWrite {
		t.Fatalf("OpenName after the restart = %+v, %v", r, err)
	}
	closeResource(r)
	if l := mustList(t, o); len(l) != 1 || !slices.Equal(l[0].Names, []string{`Local\Restored Tex`}) {
		t.Errorf("LIST after the restart: %+v", l)
	}
}

// TestBrokerSessions: a connection moved into session 2 (SET_SESSION) has
// its Local\ and plain names there: another session's local names are
// not its own (but open by their full path), its own take the same leaf
// freely, and Global\ names are every session's. A connection that holds
// anything cannot move; a reconnecting client sets its session again
// before it restores, so its names come back in it.
func TestBrokerSessions(t *testing.T) {
	b1 := &Broker{}
	path := testBroker(t, b1)
	one := dial(t, path)
	two, events := reconnecting(t, path)
	if err := two.SetSession(2); err != nil {
		t.Fatal(err)
	}
	if err := two.SetSession(MaxSession + 1); !errors.Is(err, CodeInvalid) {
		t.Errorf("SetSession(MaxSession+1): %v, want CodeInvalid", err)
	}
	fd := memfd(t, 64, 1)
	defer unix.Close(fd)
	k1, err := one.Create(testAllocation(64), fd, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := one.Share(k1, bridge.AccessGenericAll, `Local\frame`); err != nil {
		t.Fatal(err)
	}
	if _, err := one.Share(k1, bridge.AccessGenericAll, `Global\frame`); err != nil {
		t.Fatal(err)
	}
	if _, err := two.OpenName(`frame`, bridge.AccessRead); !errors.Is(err, CodeNotFound) {
		t.Errorf("session 1's local name from session 2: %v, want CodeNotFound", err)
	}
	for _, n := range []string{`Global\FRAME`, `\Sessions\1\BaseNamedObjects\frame`} {
		r, err := two.OpenName(n, bridge.AccessRead)
		if err != nil || r.KMT != k1 {
			t.Errorf("OpenName(%q) from session 2 = %v, %v; want %v", n, r.KMT, err, k1)
			continue
		}
		closeResource(r)
		if err := two.CloseHandle(r.Handle); err != nil {
			t.Fatal(err)
		}
	}
	k2, err := two.Create(testAllocation(64), fd, nil)
	if err != nil {
		t.Fatal(err)
	}
	nt, err := two.Share(k2, bridge.AccessGenericAll, `Local\frame`)
	if err != nil {
		t.Fatalf("session 2's own Local\\frame: %v", err)
	}
	if o, err := two.QueryObject(nt); err != nil || o.Name != `\Sessions\2\BaseNamedObjects\frame` {
		t.Errorf("QueryObject = %+v, %v; want the name in session 2", o, err)
	}
	if err := two.SetSession(3); !errors.Is(err, CodeInvalid) {
		t.Errorf("SetSession while holding references: %v, want CodeInvalid", err)
	}

	restart(t, b1, path, patience)
	if e := nextEvent(t, events); e.Restored != 1 || e.Refused != 0 {
		t.Errorf("reconnection %+v, want 1 restored", e)
	}
	obs := dial(t, path)
	r, err := obs.OpenName(`\Sessions\2\BaseNamedObjects\FRAME`, bridge.AccessRead)
	if err != nil || r.KMT != k2 {
		t.Fatalf("session 2's name after the restart: %v, %v; want %v", r.KMT, err, k2)
	}
	closeResource(r)
	// (An open of a name that is not there would wait for the restore
	// window to close: the NT handle's name says where it came back.)
	if o, err := two.QueryObject(nt); err != nil || o.Name != `\Sessions\2\BaseNamedObjects\frame` {
		t.Errorf("QueryObject after the restart = %+v, %v; want the name in session 2", o, err)
	}
}

// TestBrokerNameLifetime: as on Windows a name is its named object's, and
// lives while an NT handle to that object does (the one SHARE made, those
// opened by name or from a duplicate of them, and a duplicate not yet
// opened), not while the resource does: with the last closed the name no
// longer opens, though the resource lives on through its KMT handle, and
// may be shared again, by anyone. A name whose handles closed before a
// broker restart does not come back with the resource.
func TestBrokerNameLifetime(t *testing.T) {
	b1 := &Broker{}
	path := testBroker(t, b1)
	prod, _ := reconnecting(t, path)
	cons, cev := reconnecting(t, path)
	fd := memfd(t, 64, 1)
	defer unix.Close(fd)
	kmt, err := prod.Create(testAllocation(64), fd, nil)
	if err != nil {
		t.Fatal(err)
	}
	nt, err := prod.Share(kmt, bridge.AccessRead, `Local\frame`)
	if err != nil {
		t.Fatal(err)
	}
	r, err := cons.OpenName(`frame`, bridge.AccessGenericAll)
	if err != nil {
		t.Fatal(err)
	}
	closeResource(r)
	if err := prod.CloseHandle(nt); err != nil {
		t.Fatal(err)
	}
	// The consumer's handle, opened by name, keeps the name.
	if o, err := cons.QueryObject(r.Handle); err != nil || o.Name != `\Sessions\1\BaseNamedObjects\frame` {
		t.Fatalf("QueryObject = %+v, %v", o, err)
	}
	again, err := prod.OpenName(`FRAME`, bridge.AccessRead)
	if err != nil {
		t.Fatalf("the name with the consumer's handle open: %v", err)
	}
	closeResource(again)
	if err := prod.CloseHandle(again.Handle); err != nil {
		t.Fatal(err)
	}
	// A duplicate not yet opened is a handle of the named object too.
	d, err := cons.Duplicate(r.Handle, 0, DuplicateSameAccess|DuplicateCloseSource, 0)
	if err != nil {
		t.Fatal(err)
	}
	if l := mustList(t, prod); len(l) != 1 || !slices.Equal(l[0].Names, []string{`Local\frame`}) {
		t.Fatalf("with a duplicate pending, LIST = %+v; want the name", l)
	}
	dr, err := cons.OpenDuplicate(d.Token)
	if err != nil {
		t.Fatal(err)
	}
	closeResource(dr)
	if err := cons.CloseHandle(dr.Handle); err != nil {
		t.Fatal(err)
	}
	if _, err := prod.OpenName(`frame`, bridge.AccessRead); !errors.Is(err, CodeNotFound) {
		t.Fatalf("the name after its last handle closed: %v, want CodeNotFound", err)
	}
	if l := mustList(t, prod); len(l) != 1 || len(l[0].Names) != 0 {
		t.Fatalf("LIST = %+v; want the resource, without its name", l)
	}
	// Free to share again, by another process's resource too.
	fd2 := memfd(t, 64, 2)
	defer unix.Close(fd2)
	other, err := cons.Create(testAllocation(64), fd2, nil)
	if err != nil {
		t.Fatal(err)
	}
	nt2, err := cons.Share(other, bridge.AccessGenericAll, `Local\frame`)
	if err != nil {
		t.Fatalf("sharing the freed name: %v", err)
	}
	if err := cons.CloseHandle(nt2); err != nil {
		t.Fatal(err)
	}
	// A name shared and closed again before a restart stays gone; one
	// with a handle open comes back.
	nt3, err := prod.Share(kmt, bridge.AccessRead, `Local\kept`)
	if err != nil {
		t.Fatal(err)
	}
	restart(t, b1, path, patience)
	nextEvent(t, cev)
	obs := dial(t, path)
	waitFor(t, "the resources to be restored", func() bool { return len(mustList(t, obs)) == 2 })
	for _, e := range mustList(t, obs) {
		want := []string(nil)
		if e.KMT == kmt {
			want = []string{`Local\kept`}
		}
		if !slices.Equal(e.Names, want) {
			t.Errorf("after the restart %v has names %q, want %q", e.KMT, e.Names, want)
		}
	}
	if o, err := prod.QueryObject(nt3); err != nil || o.Name != `\Sessions\1\BaseNamedObjects\kept` {
		t.Errorf("QueryObject after the restart = %+v, %v", o, err)
	}
}
