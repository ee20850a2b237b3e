package bridge

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func testAllocation(size uint64) Allocation {
	return Allocation{
		Desc: Desc{
			Dimension: DimensionTexture2D, Width: 64, Height: 32, DepthOrArraySize: 1, MipLevels: 1,
			SampleCount: 1, Format: FormatB8G8R8A8Unorm, BindFlags: 0x28, MiscFlags: 0x2, CPUAccessFlags: 0x10000,
		},
		VkFormat: 44, Tiling: TilingLinear, ImageUsage: 0x1f, ImageFlags: 0x8,
		Size: size, Offset: 0, MemoryTypeIndex: 3, Dedicated: true,
		DriverUUID: UUID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16},
		DeviceUUID: UUID{0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf},
	}
}

// TestAllocationLayout pins the wire layout docs/protocol.md gives, and
// fails when Desc or Allocation gain a field the encoding does not carry.
func TestAllocationLayout(t *testing.T) {
	if n := reflect.TypeFor[Desc]().NumField(); n != 10 {
		t.Fatalf("Desc has %d fields; the wire encoding (AppendDesc, docs/protocol.md) knows 10: extend both", n)
	}
	if n := reflect.TypeFor[Allocation]().NumField(); n != 11 {
		t.Fatalf("Allocation has %d fields; the wire encoding (AppendAllocation, docs/protocol.md) knows 11: extend both", n)
	}
	a := testAllocation(0x1122334455667788)
	a.Offset = 0x0102030405060708
	b := AppendAllocation(nil, a)
	if len(b) != AllocationSize {
		t.Fatalf("encoded allocation is %d bytes, want %d", len(b), AllocationSize)
	}
	u32 := func(off int) uint32 { return le.Uint32(b[off:]) }
	for _, c := range []struct {
		off  int
		want uint32
	}{
		{0, uint32(DimensionTexture2D)}, {4, 64}, {8, 32}, {12, 1}, {16, 1}, {20, 1}, {24, uint32(FormatB8G8R8A8Unorm)},
		{28, 0x28}, {32, 0x2}, {36, 0x10000}, {40, 44}, {44, uint32(TilingLinear)}, {48, 0x1f}, {52, 0x8},
		{72, 3}, {76, 1},
	} {
		if got := u32(c.off); got != c.want {
			t.Errorf("u32 at offset %d = %#x, want %#x", c.off, got, c.want)
		}
	}
	if got := le.Uint64(b[56:]); got != a.Size {
		t.Errorf("size at 56 = %#x", got)
	}
	if got := le.Uint64(b[64:]); got != a.Offset {
		t.Errorf("offset at 64 = %#x", got)
	}
	if !bytes.Equal(b[80:96], a.DriverUUID[:]) || !bytes.Equal(b[96:112], a.DeviceUUID[:]) {
		t.Errorf("UUIDs at 80 and 96 = %x %x", b[80:96], b[96:112])
	}
	got, err := DecodeAllocation(b)
	if err != nil || got != a {
		t.Fatalf("DecodeAllocation = %+v, %v; want %+v", got, err, a)
	}
	b[76] = 3 // an unknown flag bit
	if _, err := DecodeAllocation(b); !errors.Is(err, ErrInvalid) {
		t.Errorf("unknown allocation flag: err = %v, want ErrInvalid", err)
	}
	if _, err := DecodeAllocation(b[:100]); !errors.Is(err, ErrBadMessage) {
		t.Errorf("short allocation: err = %v, want ErrBadMessage", err)
	}
}

func TestHandleEncoding(t *testing.T) {
	h := makeKMT(5, 7)
	if want := Handle((7<<16|5)<<6 | 0x40000000 | 2); h != want {
		t.Fatalf("makeKMT(5, 7) = %v, want %v", h, want)
	}
	if !h.IsKMT() || h.IsNT() {
		t.Errorf("%v: IsKMT %v IsNT %v", h, h.IsKMT(), h.IsNT())
	}
	if s, g := h.slotGen(); s != 5 || g != 7 {
		t.Errorf("slotGen = %d, %d", s, g)
	}
	for _, nt := range []Handle{4, 8, 0x3ffffffc} {
		if !nt.IsNT() || nt.IsKMT() {
			t.Errorf("%v should be an NT handle only", nt)
		}
	}
	for _, bad := range []Handle{0, 2, 3, 0x40000003, 0x40000006, 0xc0000002, 0x80000040, 0x40000042 | 0x20} {
		if bad.IsKMT() || bad.IsNT() {
			t.Errorf("%v should be neither kind", bad)
		}
	}
}

func TestValidName(t *testing.T) {
	for _, ok := range []string{"a", "Global\\SharedTex{0A1B}", "Ümlaut name", strings.Repeat("x", MaxNameLen)} {
		if err := ValidName(ok); err != nil {
			t.Errorf("ValidName(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", strings.Repeat("x", MaxNameLen+1), "tab\there", "nul\x00", "bidi\u202e", "\xff\xfe", "del\x7f"} {
		if err := ValidName(bad); !errors.Is(err, ErrBadName) {
			t.Errorf("ValidName(%q) = %v, want ErrBadName", bad, err)
		}
	}
}

// sampleRequests is one valid request of every type; the fuzz seeds and the
// round-trip test start from them.
func sampleRequests() []request {
	return []request{
		{header: header{Type: msgCreate, ID: 1}, Alloc: testAllocation(4096), Data: []byte("private runtime data")},
		{header: header{Type: msgCreate, ID: 2}, Alloc: testAllocation(1)},
		{header: header{Type: msgShare, ID: 3}, Handle: makeKMT(1, 1), Access: AccessRead, Name: "Global\\tex"},
		{header: header{Type: msgShare, ID: 4}, Handle: 8, Access: AccessReadWrite},
		{header: header{Type: msgOpenKMT, ID: 5}, Handle: makeKMT(9, 3)},
		{header: header{Type: msgOpenName, ID: 6}, Access: AccessWrite, Name: "name"},
		{header: header{Type: msgQuery, ID: 7}, Handle: 12},
		{header: header{Type: msgUpdateData, ID: 8}, Handle: makeKMT(0, 1), Data: []byte{1, 2, 3}},
		{header: header{Type: msgClose, ID: 9}, Handle: makeKMT(0, 1)},
		{header: header{Type: msgList, ID: 10}, Cursor: 17},
		{header: header{Type: msgAttachSync, ID: 11}, Handle: makeKMT(0, 1)},
	}
}

func TestRequestRoundTrip(t *testing.T) {
	for _, q := range sampleRequests() {
		msg := encodeRequest(q)
		got, err := decodeRequest(msg, fdsFor(q.Type, q.SyncCount))
		if err != nil {
			t.Fatalf("%v: decode: %v", q.Type, err)
		}
		q.Version, q.PayloadLen, q.NumFDs = ProtocolVersion, uint32(len(msg)-HeaderSize), uint16(fdsFor(q.Type, q.SyncCount))
		if len(got.Data) == 0 && len(q.Data) == 0 {
			q.Data = got.Data
		}
		if !reflect.DeepEqual(got, q) {
			t.Errorf("%v: round trip\n got %+v\nwant %+v", q.Type, got, q)
		}
		// Every proper prefix is refused, never panics.
		for n := range len(msg) {
			if _, err := decodeRequest(msg[:n], fdsFor(q.Type, q.SyncCount)); err == nil {
				t.Fatalf("%v: %d-byte prefix of %d decoded", q.Type, n, len(msg))
			}
		}
	}
}

func TestDecodeRequestErrors(t *testing.T) {
	create := encodeRequest(sampleRequests()[0])
	mut := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(create)) }
	for _, c := range []struct {
		name string
		msg  []byte
		nfds int
		want ErrorCode
	}{
		{"bad magic", mut(func(b []byte) []byte { b[0] ^= 1; return b }), 1, ErrBadMessage},
		{"bad version", mut(func(b []byte) []byte { b[4] = 2; return b }), 1, ErrBadVersion},
		{"unknown type", mut(func(b []byte) []byte { b[6] = 0x77; return b }), 1, ErrUnknownType},
		{"length mismatch", mut(func(b []byte) []byte { b[12]++; return b }), 1, ErrBadMessage},
		{"flags", mut(func(b []byte) []byte { b[18] = 1; return b }), 1, ErrBadMessage},
		{"status in request", mut(func(b []byte) []byte { b[20] = 1; return b }), 1, ErrBadMessage},
		{"fd count mismatch", create, 2, ErrBadFDs},
		{"no fd", mut(func(b []byte) []byte { b[16] = 0; return b }), 0, ErrBadFDs},
		{"too many fds", mut(func(b []byte) []byte { b[16] = 9; return b }), 9, ErrBadFDs},
		{"blob too large", mut(func(b []byte) []byte { le.PutUint32(b[HeaderSize+8:], MaxPrivateData+1); return b }), 1, ErrTooLarge},
		{"blob length lies", mut(func(b []byte) []byte { le.PutUint32(b[HeaderSize+8:], 3); return b }), 1, ErrBadMessage},
		{"reserved create field", mut(func(b []byte) []byte { b[HeaderSize+12] = 1; return b }), 1, ErrBadMessage},
		{"sync count too large", mut(func(b []byte) []byte { b[HeaderSize+4] = MaxSyncObjects + 1; return b }), 1, ErrInvalid},
		{"unknown allocation flag", mut(func(b []byte) []byte { b[HeaderSize+16+76] = 0x80; return b }), 1, ErrInvalid},
		{"oversized", append(mut(func(b []byte) []byte { le.PutUint32(b[12:], uint32(len(b)-HeaderSize+MaxMessageSize)); return b }), make([]byte, MaxMessageSize)...), 1, ErrTooLarge},
	} {
		_, err := decodeRequest(c.msg, c.nfds)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: err = %v, want %v", c.name, err, c.want)
		}
	}
	share := encodeRequest(request{header: header{Type: msgShare}, Handle: 4, Access: AccessRead, Name: "x"})
	le.PutUint32(share[HeaderSize+8:], MaxNameLen+1)
	if _, err := decodeRequest(share, 0); !errors.Is(err, ErrBadName) {
		t.Errorf("long name length: err = %v, want ErrBadName", err)
	}
}

// FuzzDecodeRequest feeds the broker's decoder arbitrary messages. It must
// never panic, must answer with a *BrokerError, and what it accepts must
// re-encode to the same bytes: the encoding has one form, so nothing is
// accepted that the broker would misread.
func FuzzDecodeRequest(f *testing.F) {
	for _, q := range sampleRequests() {
		f.Add(encodeRequest(q), uint8(fdsFor(q.Type, q.SyncCount)))
	}
	f.Fuzz(func(t *testing.T, msg []byte, nfds uint8) {
		q, err := decodeRequest(msg, int(nfds))
		if err != nil {
			var be *BrokerError
			if !errors.As(err, &be) || be.Code == 0 {
				t.Fatalf("error %v (%T) is not a *BrokerError with a code", err, err)
			}
			return
		}
		if int(nfds) != fdsFor(q.Type, q.SyncCount) {
			t.Fatalf("accepted %v with %d fds", q.Type, nfds)
		}
		if again := encodeRequest(q); !bytes.Equal(again, msg) {
			t.Fatalf("accepted message re-encodes differently\n in  %x\n out %x", msg, again)
		}
	})
}

// FuzzDecodeReply does the same for the client's reply decoders, which must
// survive a broken or hostile broker.
func FuzzDecodeReply(f *testing.F) {
	f.Add(appendResourceRecord(nil, resourceRecord{Handle: 4, KMT: makeKMT(1, 1), Access: AccessRead, Alloc: testAllocation(64), Data: []byte("blob")}), false)
	list := le.AppendUint32(le.AppendUint32(nil, 0), 1)
	list = appendListEntry(list, listEntry{KMT: makeKMT(2, 1), CreatorPID: 42, Refs: 2, Alloc: testAllocation(64),
		Names: []string{"a", "bb"}, Holders: []Holder{{PID: 42, UID: 1000, Conn: 1, Refs: 2}}})
	f.Add(list, true)
	f.Fuzz(func(t *testing.T, p []byte, isList bool) {
		if isList {
			_, entries, err := decodeListReply(p)
			if err == nil {
				again := le.AppendUint32(le.AppendUint32(nil, le.Uint32(p)), uint32(len(entries)))
				for _, e := range entries {
					again = appendListEntry(again, e)
				}
				if len(again) != len(p) {
					t.Fatalf("list reply of %d bytes re-encodes to %d", len(p), len(again))
				}
			}
			return
		}
		if rec, err := decodeResourceRecord(p); err == nil && len(rec.Data) > MaxPrivateData {
			t.Fatalf("accepted %d bytes of private data", len(rec.Data))
		}
	})
}
