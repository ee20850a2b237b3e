package broker

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/glbridge/glbridge/bridge"
)

func testAllocation(size uint64) bridge.Allocation {
	return bridge.Allocation{
		Desc: bridge.Desc{
			Dimension: bridge.DimensionTexture2D, Width: 64, Height: 32, DepthOrArraySize: 1, MipLevels: 1,
			SampleCount: 1, Format: bridge.FormatB8G8R8A8Unorm, BindFlags: 0x28, MiscFlags: 0x2, CPUAccessFlags: 0x10000,
		},
		VkFormat: 44, Tiling: bridge.TilingLinear, ImageUsage: 0x1f, ImageFlags: 0x8,
		Size: size, Offset: 0, MemoryTypeIndex: 3, Dedicated: true,
		Device: bridge.DeviceID{
			Driver: bridge.UUID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16},
			Device: bridge.UUID{0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf},
		},
	}
}

// TestAllocationLayout pins the wire layout docs/protocol.md gives, and
// fails when Desc or Allocation gain a field the encoding does not carry.
func TestAllocationLayout(t *testing.T) {
	if n := reflect.TypeFor[bridge.Desc]().NumField(); n != 10 {
		t.Fatalf("Desc has %d fields; the wire encoding (appendDesc, docs/protocol.md) knows 10: extend both", n)
	}
	if n := reflect.TypeFor[bridge.Allocation]().NumField(); n != 11 {
		t.Fatalf("Allocation has %d fields; the wire encoding (appendAllocation, docs/protocol.md) knows 11 (Device as its two UUIDs): extend both", n)
	}
	a := testAllocation(0x1122334455667788)
	a.Offset = 0x0102030405060708
	b := appendAllocation(nil, a)
	if len(b) != allocationSize {
		t.Fatalf("encoded allocation is %d bytes, want %d", len(b), allocationSize)
	}
	u32 := func(off int) uint32 { return le.Uint32(b[off:]) }
	for _, c := range []struct {
		off  int
		want uint32
	}{
		{0, uint32(bridge.DimensionTexture2D)}, {4, 64}, {8, 32}, {12, 1}, {16, 1}, {20, 1}, {24, uint32(bridge.FormatB8G8R8A8Unorm)},
		{28, 0x28}, {32, 0x2}, {36, 0x10000}, {40, 44}, {44, uint32(bridge.TilingLinear)}, {48, 0x1f}, {52, 0x8},
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
	if !bytes.Equal(b[80:96], a.Device.Driver[:]) || !bytes.Equal(b[96:112], a.Device.Device[:]) {
		t.Errorf("UUIDs at 80 and 96 = %x %x", b[80:96], b[96:112])
	}
	got, err := decodeAllocation(b)
	if err != nil || got != a {
		t.Fatalf("decodeAllocation = %+v, %v; want %+v", got, err, a)
	}
	// Flag bit 1 is HostMemory.
	h := a
	h.Dedicated, h.HostMemory = false, true
	hb := appendAllocation(nil, h)
	if le.Uint32(hb[76:]) != 2 {
		t.Errorf("flags of a host-memory allocation = %#x, want 2", le.Uint32(hb[76:]))
	}
	if got, err := decodeAllocation(hb); err != nil || got != h {
		t.Errorf("decodeAllocation(host memory) = %+v, %v", got, err)
	}
	b[76] = 5 // an unknown flag bit
	if _, err := decodeAllocation(b); !errors.Is(err, CodeInvalid) {
		t.Errorf("unknown allocation flag: err = %v, want CodeInvalid", err)
	}
	if _, err := decodeAllocation(b[:100]); !errors.Is(err, CodeBadMessage) {
		t.Errorf("short allocation: err = %v, want CodeBadMessage", err)
	}
}

func TestHandleEncoding(t *testing.T) {
	h := bridge.GlobalHandle(7<<16 | 5)
	if want := bridge.Handle((7<<16|5)<<6 | 0x40000000 | 2); h != want {
		t.Fatalf("GlobalHandle(7<<16 | 5) = %v, want %v", h, want)
	}
	if !h.IsKMT() || h.IsNT() {
		t.Errorf("%v: IsKMT %v IsNT %v", h, h.IsKMT(), h.IsNT())
	}
	if i := h.GlobalIndex(); i != 7<<16|5 {
		t.Errorf("GlobalIndex = %#x", i)
	}
	for _, nt := range []bridge.Handle{4, 8, 0x3ffffffc} {
		if !nt.IsNT() || nt.IsKMT() {
			t.Errorf("%v should be an NT handle only", nt)
		}
	}
	for _, bad := range []bridge.Handle{0, 2, 3, 0x40000003, 0x40000006, 0xc0000002, 0x80000040, 0x40000042 | 0x20} {
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
		if err := ValidName(bad); !errors.Is(err, CodeBadName) {
			t.Errorf("ValidName(%q) = %v, want CodeBadName", bad, err)
		}
	}
}

// sampleRequests is one valid request of every type; the fuzz seeds and the
// round-trip test start from them.
func sampleRequests() []request {
	return []request{
		{header: header{Type: msgCreate, ID: 1}, Alloc: testAllocation(4096), Data: []byte("private runtime data")},
		{header: header{Type: msgCreate, ID: 2}, Alloc: testAllocation(1)},
		{header: header{Type: msgShare, ID: 3}, Handle: bridge.GlobalHandle(1<<16 | 1), Access: bridge.AccessRead, Name: "Global\\tex"},
		{header: header{Type: msgShare, ID: 4}, Handle: 8, Access: bridge.AccessReadWrite},
		{header: header{Type: msgOpenKMT, ID: 5}, Handle: bridge.GlobalHandle(3<<16 | 9)},
		{header: header{Type: msgOpenName, ID: 6}, Access: bridge.AccessWrite, Name: "name"},
		{header: header{Type: msgQuery, ID: 7}, Handle: 12},
		{header: header{Type: msgUpdateData, ID: 8}, Handle: bridge.GlobalHandle(1 << 16), Data: []byte{1, 2, 3}},
		{header: header{Type: msgClose, ID: 9}, Handle: bridge.GlobalHandle(1 << 16)},
		{header: header{Type: msgList, ID: 10}, Cursor: 17},
		{header: header{Type: msgAttachSync, ID: 11}, Handle: bridge.GlobalHandle(1 << 16), Kind: syncTimeline},
		{header: header{Type: msgCreate, ID: 12}, Alloc: testAllocation(4096), SyncCount: 2, Kinds: []syncKind{syncTimeline, syncBinary}, Data: []byte("with semaphores")},
		{header: header{Type: msgCreate, ID: 13}, Alloc: testAllocation(64), SyncCount: 1, Kinds: []syncKind{syncBinary}},
		{header: header{Type: msgAttachSync, ID: 14}, Handle: 8, Kind: syncBinary},
		{header: header{Type: msgAcquireSync, ID: 15}, Handle: bridge.GlobalHandle(2<<16 | 3), Key: 1, TimeoutMS: 500},
		{header: header{Type: msgAcquireSync, ID: 16}, Handle: 12, Key: 0xfedcba9876543210, TimeoutMS: infiniteTimeoutMS},
		{header: header{Type: msgReleaseSync, ID: 17}, Handle: bridge.GlobalHandle(2<<16 | 3), Key: 2, Value: 0x1122334455667788},
		{header: header{Type: msgList, ID: 18}, Cursor: 3, ListFlags: listFlagSyncState},
		{header: header{Type: msgAllocate, ID: 19}, Desc: bridge.Texture2D(67, 33, bridge.FormatR8G8B8A8Unorm), Device: testAllocation(0).Device, Data: []byte("allocated")},
		{header: header{Type: msgAllocate, ID: 20}, AllocFlags: allocateFlagHostMemory, Desc: bridge.Desc{
			Dimension: bridge.DimensionTextureCube, Width: 16, Height: 16, DepthOrArraySize: 2, MipLevels: 5, SampleCount: 1, Format: bridge.FormatBC1Unorm, MiscFlags: 0x4,
		}},
		{header: header{Type: msgAllocate, ID: 21}, Desc: bridge.Texture2D(256, 256, bridge.FormatB8G8R8A8Unorm), Device: testAllocation(0).Device, Kind: syncBinary, SyncCount: 2},
		{header: header{Type: msgAllocate, ID: 22}, Desc: bridge.Desc{Dimension: bridge.DimensionBuffer, Width: 4099, Height: 1, DepthOrArraySize: 1, MipLevels: 1, SampleCount: 1},
			Device: testAllocation(0).Device, Kind: syncTimeline, SyncCount: 1, Data: make([]byte, MaxPrivateData-allocateFixed-headerSize)},
		{header: header{Type: msgRestore, ID: 25}, Restore: restoreReq{KMT: bridge.GlobalHandle(0xabcdef), KMTRefs: 1, Alloc: testAllocation(4096)}},
		{header: header{Type: msgRestore, ID: 26}, SyncCount: 2, Restore: restoreReq{
			KMT: bridge.GlobalHandle(77), Flags: restoreCreator | restoreServiceAllocated | restoreMutexHeld, KMTRefs: 3,
			MutexHandle: 8, MutexKey: 1, MutexValue: 0x1122334455667788, MutexEvents: 41, Alloc: testAllocation(64),
			Kinds: []syncKind{syncBinary, syncBinary}, NT: []ntClaim{{Handle: 8, Access: bridge.AccessRead}, {Handle: 0x3ffffffc, Access: bridge.AccessReadWrite}},
			Names: []nameClaim{{"Global\\tex", bridge.AccessRead}, {"日本", bridge.AccessWrite}}, Data: []byte("restored data"),
		}},
		{header: header{Type: msgRestore, ID: 27}, SyncCount: 1, Restore: restoreReq{
			KMT: bridge.GlobalHandle(1), Flags: restoreMutexReleased | restoreMutexAbandoned, MutexKey: 9, MutexValue: 10, MutexEvents: 11,
			Alloc: testAllocation(64), Kinds: []syncKind{syncTimeline}, NT: []ntClaim{{Handle: 4, Access: bridge.AccessWrite}},
		}},
		// RESTORE naming each NT handle's object (restoreNTNames).
		{header: header{Type: msgRestore, ID: 28}, Restore: restoreReq{
			KMT: bridge.GlobalHandle(5), Flags: restoreNTNames, Alloc: testAllocation(64),
			NT:    []ntClaim{{Handle: 8, Access: bridge.AccessGenericAll, Name: 2}, {Handle: 12, Access: bridge.AccessRead}},
			Names: []nameClaim{{`\BaseNamedObjects\a`, bridge.AccessRead}, {"b", bridge.AccessReadWrite}},
		}},
		{header: header{Type: msgDuplicate, ID: 29}, Handle: 8, Access: bridge.AccessGenericRead, Options: duplicateCloseSource, TargetPID: 4242},
		{header: header{Type: msgDuplicate, ID: 30}, Handle: 0x3ffffffc, Options: duplicateSameAccess},
		{header: header{Type: msgOpenDuplicate, ID: 31}, Token: 0xfedcba9876543210},
		{header: header{Type: msgQueryObject, ID: 32}, Handle: 4},
		// Version 1 is still served: its requests (all but ALLOCATE
		// and RESTORE) decode as before.
		{header: header{Type: msgOpenKMT, ID: 23, Version: protocolVersion1}, Handle: bridge.GlobalHandle(3<<16 | 9)},
		{header: header{Type: msgCreate, ID: 24, Version: protocolVersion1}, Alloc: testAllocation(4096), SyncCount: 1, Kinds: []syncKind{syncTimeline}, Data: []byte("v1")},
		{header: header{Type: msgList, ID: 33}, Cursor: 4, ListFlags: listFlagSyncState | listFlagHandles},
		// Fences (version 2).
		{header: header{Type: msgCreateFence, ID: 34}, Value: 0x0102030405060708},
		{header: header{Type: msgCreateFence, ID: 35}, Kind: syncTimeline, SyncCount: 1, Value: 1},
		{header: header{Type: msgOpenFence, ID: 36}, Handle: bridge.GlobalHandle(0x123)},
		{header: header{Type: msgOpenFence, ID: 37}, Access: bridge.AccessGenericAll, Name: "Local\\fence"},
		{header: header{Type: msgOpenFence, ID: 38}, Token: 0xfedcba9876543210},
		{header: header{Type: msgSignalFence, ID: 39}, Handle: 8, Value: 7},
		{header: header{Type: msgSignalFence, ID: 40}, Handle: bridge.GlobalHandle(9), FenceFlags: signalFlagRebase, Value: 3, Offset: 1 << 40},
		{header: header{Type: msgWaitFence, ID: 41}, Handle: 12, TimeoutMS: infiniteTimeoutMS, Value: 0xffffffffffffffff},
		{header: header{Type: msgGetFence, ID: 42}, Handle: 16},
		{header: header{Type: msgListFences, ID: 43}, Cursor: 99},
		{header: header{Type: msgRestoreFence, ID: 44}, SyncCount: 1, Restore: restoreReq{
			KMT: bridge.GlobalHandle(0xabc), Flags: restoreCreator | restoreNTNames, KMTRefs: 2, Kinds: []syncKind{syncTimeline},
			NT:    []ntClaim{{Handle: 8, Access: bridge.AccessGenericAll, Name: 1}, {Handle: 12, Access: bridge.AccessRead}},
			Names: []nameClaim{{"Global\\f", bridge.AccessReadWrite}}, Fence: FenceValue{Value: 3, Signals: 9, Offset: 47},
		}},
		{header: header{Type: msgRestoreFence, ID: 45}, Restore: restoreReq{KMT: bridge.GlobalHandle(1), Flags: restoreNTNames,
			NT: []ntClaim{{Handle: 4, Access: bridge.AccessRead}}, Fence: FenceValue{Value: 1}}},
		{header: header{Type: msgCreateKeyedMutex, ID: 46}, Handle: bridge.GlobalHandle(3), Sync: bridge.GlobalHandle(4), Data: []byte{1, 2, 3, 4, 5, 6}},
		{header: header{Type: msgCreateKeyedMutex, ID: 47}},
		{header: header{Type: msgOpenKeyedMutex, ID: 48}, Handle: bridge.GlobalHandle(5)},
		{header: header{Type: msgListFences, ID: 49}, ListFlags: listFencesFlagKeyedMutexes},
		{header: header{Type: msgRestoreKeyedMutex, ID: 50}, Restore: restoreReq{KMT: bridge.GlobalHandle(5), Flags: restoreCreator | restoreMutexHeld,
			KMTRefs: 2, MutexOf: bridge.GlobalHandle(3), MutexSync: bridge.GlobalHandle(4), MutexHandle: bridge.GlobalHandle(5),
			MutexKey: 7, MutexValue: 8, MutexEvents: 9, Data: []byte("km")}},
		{header: header{Type: msgSetSession, ID: 51}, Session: 2},
		{header: header{Type: msgCreateFence, ID: 52}, FenceFlags: createFenceService, Kind: syncTimeline, Value: 9,
			Device: bridge.DeviceID{Driver: [16]byte{1, 2, 3}, Device: [16]byte{4, 5, 6}}},
		{header: header{Type: msgRestoreFence, ID: 53}, SyncCount: 1, Restore: restoreReq{KMT: bridge.GlobalHandle(7), Flags: restoreCreator | restoreFenceService | restoreNTNames,
			KMTRefs: 1, Kinds: []syncKind{syncTimeline}, Fence: FenceValue{Value: 2, Signals: 3}, Device: bridge.DeviceID{Driver: [16]byte{7}, Device: [16]byte{8}}}},
	}
}

// TestFenceLayouts pins the byte offsets docs/protocol.md gives for the
// fence messages and replies, and checks what their decoders refuse.
func TestFenceLayouts(t *testing.T) {
	p := func(q request) []byte { return encodeRequest(q)[headerSize:] }
	msg := encodeRequest(request{header: header{Type: msgCreateFence}, Kind: syncTimeline, Value: 0x1122})
	cr := msg[headerSize:]
	if le.Uint16(msg[6:]) != 17 || le.Uint16(msg[16:]) != 1 || len(cr) != 16 || le.Uint32(cr) != 0 || le.Uint32(cr[4:]) != 2 || le.Uint64(cr[8:]) != 0x1122 {
		t.Errorf("create-fence: %x", msg)
	}
	op := p(request{header: header{Type: msgOpenFence}, Access: bridge.AccessRead, Name: "ab"})
	if len(op) != 26 || le.Uint32(op) != 0 || le.Uint32(op[4:]) != uint32(bridge.AccessRead) || le.Uint32(op[8:]) != 2 || le.Uint32(op[12:]) != 0 ||
		le.Uint64(op[16:]) != 0 || string(op[24:]) != "ab" {
		t.Errorf("open-fence: %x", op)
	}
	sg := p(request{header: header{Type: msgSignalFence}, Handle: 8, FenceFlags: signalFlagRebase, Value: 3, Offset: 4})
	if len(sg) != 24 || le.Uint32(sg) != 8 || le.Uint32(sg[4:]) != 1 || le.Uint64(sg[8:]) != 3 || le.Uint64(sg[16:]) != 4 {
		t.Errorf("signal-fence: %x", sg)
	}
	wt := p(request{header: header{Type: msgWaitFence}, Handle: 8, TimeoutMS: 500, Value: 9})
	if len(wt) != 16 || le.Uint32(wt) != 8 || le.Uint32(wt[4:]) != 500 || le.Uint64(wt[8:]) != 9 {
		t.Errorf("wait-fence: %x", wt)
	}
	if g := p(request{header: header{Type: msgGetFence}, Handle: 8}); len(g) != 8 || le.Uint32(g) != 8 {
		t.Errorf("get-fence: %x", g)
	}
	rf := p(request{header: header{Type: msgRestoreFence}, SyncCount: 1, Restore: restoreReq{KMT: 0x40000042, Flags: restoreCreator, KMTRefs: 1,
		Kinds: []syncKind{syncTimeline}, NT: []ntClaim{{Handle: 8, Access: bridge.AccessRead, Name: 1}}, Names: []nameClaim{{"n", bridge.AccessRead}},
		Fence: FenceValue{Value: 5, Signals: 6, Offset: 7}}})
	if len(rf) != restoreFenceFixed+12+9 || le.Uint32(rf) != 0x40000042 || le.Uint32(rf[4:]) != 1 || le.Uint32(rf[8:]) != 1 || le.Uint32(rf[12:]) != 1 ||
		le.Uint32(rf[16:]) != 1 || le.Uint32(rf[20:]) != 2 || le.Uint64(rf[24:]) != 5 || le.Uint64(rf[32:]) != 6 || le.Uint64(rf[40:]) != 7 ||
		le.Uint32(rf[48:]) != 8 || le.Uint32(rf[52:]) != uint32(bridge.AccessRead) || le.Uint32(rf[56:]) != 1 ||
		le.Uint32(rf[60:]) != uint32(bridge.AccessRead) || le.Uint32(rf[64:]) != 1 || string(rf[68:]) != "n" {
		t.Errorf("restore-fence: %x", rf)
	}
	v := appendFenceValue(nil, FenceValue{Value: 1, Signals: 2, Offset: 3})
	if len(v) != 24 || le.Uint64(v) != 1 || le.Uint64(v[8:]) != 2 || le.Uint64(v[16:]) != 3 {
		t.Errorf("fence value: %x", v)
	}
	rec := appendFenceRecord(nil, fenceRecord{Handle: 8, KMT: 0x40000042, Access: bridge.AccessRead, Mask: bridge.AccessGenericRead, Kind: syncTimeline,
		Path: `\BaseNamedObjects\x`, FenceValue: FenceValue{Value: 1, Signals: 2, Offset: 3}})
	if le.Uint32(rec) != 8 || le.Uint32(rec[4:]) != 0x40000042 || le.Uint32(rec[8:]) != uint32(bridge.AccessRead) || le.Uint32(rec[12:]) != uint32(bridge.AccessGenericRead) ||
		le.Uint32(rec[16:]) != 2 || le.Uint32(rec[20:]) != 19 || le.Uint64(rec[24:]) != 1 || le.Uint64(rec[32:]) != 2 || le.Uint64(rec[40:]) != 3 ||
		string(rec[48:]) != `\BaseNamedObjects\x` {
		t.Errorf("fence record: %x", rec)
	}
	ent := appendFenceEntry(nil, fenceEntry{KMT: 0x40000042, CreatorPID: 7, Refs: 3, NTHandles: 1, Waiters: 2, CreatorActive: true, Timeline: true,
		FenceValue: FenceValue{Value: 4, Signals: 5, Offset: 6}, Names: []string{"ab"}})
	if len(ent) != fenceEntryFixed+4 || le.Uint32(ent) != 0x40000042 || le.Uint32(ent[4:]) != 7 || le.Uint32(ent[8:]) != 3 || le.Uint32(ent[12:]) != 1 ||
		le.Uint32(ent[16:]) != 2 || le.Uint32(ent[20:]) != 3 || le.Uint64(ent[24:]) != 4 || le.Uint64(ent[32:]) != 5 || le.Uint64(ent[40:]) != 6 ||
		le.Uint16(ent[48:]) != 1 || le.Uint16(ent[50:]) != 0 || le.Uint16(ent[52:]) != 2 || string(ent[54:]) != "ab" {
		t.Errorf("fence list entry: %x", ent)
	}
	for _, c := range []struct {
		name string
		q    request
		edit func([]byte)
		nfds int
		code Code
	}{
		{"create flags", request{header: header{Type: msgCreateFence}}, func(p []byte) { p[0] = 2 }, 0, CodeBadMessage},
		{"create service without a semaphore", request{header: header{Type: msgCreateFence}}, func(p []byte) { p[0] = 1 }, 0, CodeInvalid},
		{"create binary", request{header: header{Type: msgCreateFence}}, func(p []byte) { p[4] = 1 }, 0, CodeInvalid},
		{"create timeline without fd", request{header: header{Type: msgCreateFence}}, func(p []byte) { p[4] = 2 }, 0, CodeBadFDs},
		{"open two ways", request{header: header{Type: msgOpenFence}, Handle: 0x40000042}, func(p []byte) { p[16] = 1 }, 0, CodeInvalid},
		{"open no way", request{header: header{Type: msgOpenFence}, Handle: 0x40000042}, func(p []byte) { le.PutUint32(p, 0) }, 0, CodeInvalid},
		{"open kmt with access", request{header: header{Type: msgOpenFence}, Handle: 0x40000042}, func(p []byte) { p[7] = 0x80 }, 0, CodeInvalid},
		{"open reserved", request{header: header{Type: msgOpenFence}, Token: 1}, func(p []byte) { p[12] = 1 }, 0, CodeBadMessage},
		{"signal flags", request{header: header{Type: msgSignalFence}, Handle: 8}, func(p []byte) { p[4] = 4 }, 0, CodeBadMessage},
		{"signal rebase and host", request{header: header{Type: msgSignalFence}, Handle: 8}, func(p []byte) { p[4] = 3 }, 0, CodeInvalid},
		{"signal offset without rebase", request{header: header{Type: msgSignalFence}, Handle: 8}, func(p []byte) { p[16] = 1 }, 0, CodeBadMessage},
		{"get reserved", request{header: header{Type: msgGetFence}, Handle: 8}, func(p []byte) { p[4] = 1 }, 0, CodeBadMessage},
		{"list flags", request{header: header{Type: msgListFences}}, func(p []byte) { p[4] = 2 }, 0, CodeBadMessage},
		{"restore flags", request{header: header{Type: msgRestoreFence}, Restore: restoreReq{KMT: 0x40000042, KMTRefs: 1}}, func(p []byte) { p[4] = 4 }, 0, CodeBadMessage},
		{"restore kind", request{header: header{Type: msgRestoreFence}, Restore: restoreReq{KMT: 0x40000042, KMTRefs: 1}}, func(p []byte) { p[20] = 1 }, 0, CodeInvalid},
	} {
		m := encodeRequest(c.q)
		c.edit(m[headerSize:])
		if _, err := decodeRequest(m, c.nfds); !errors.Is(err, c.code) {
			t.Errorf("%s: %v, want %v", c.name, err, c.code)
		}
	}
	v1 := encodeRequest(request{header: header{Type: msgGetFence, Version: protocolVersion1}, Handle: 8})
	if _, err := decodeRequest(v1, 0); !errors.Is(err, CodeUnknownType) {
		t.Errorf("version-1 GET_FENCE: %v, want UNKNOWN_TYPE", err)
	}
	if CodeWrongType.forVersion(protocolVersion1) != CodeInvalid {
		t.Errorf("WRONG_TYPE in version 1 is %v", CodeWrongType.forVersion(protocolVersion1))
	}
}

// TestRestoreLayout pins the byte offsets of a RESTORE request, which
// docs/protocol.md lists, and checks what its decoder refuses.
func TestRestoreLayout(t *testing.T) {
	var q request
	for _, s := range sampleRequests() {
		if s.ID == 26 {
			q = s
		}
	}
	msg := encodeRequest(q)
	p := msg[headerSize:]
	r := q.Restore
	if le.Uint16(msg[6:]) != 13 || le.Uint16(msg[16:]) != 3 {
		t.Errorf("restore header: %x", msg[:headerSize])
	}
	fixed := []uint32{uint32(r.KMT), r.Flags, 3, 2, 2, 2, uint32(len(r.Data)), 8}
	for i, v := range fixed {
		if le.Uint32(p[4*i:]) != v {
			t.Errorf("restore field at %d = %#x, want %#x", 4*i, le.Uint32(p[4*i:]), v)
		}
	}
	if le.Uint64(p[32:]) != 1 || le.Uint64(p[40:]) != r.MutexValue || le.Uint32(p[48:]) != 41 || le.Uint32(p[52:]) != 0 ||
		!bytes.Equal(p[56:168], appendAllocation(nil, r.Alloc)) || restoreFixed != 168 ||
		le.Uint32(p[168:]) != uint32(syncBinary) || le.Uint32(p[176:]) != 8 || le.Uint32(p[180:]) != uint32(bridge.AccessRead) ||
		le.Uint32(p[192:]) != uint32(bridge.AccessRead) || le.Uint32(p[196:]) != uint32(len("Global\\tex")) || string(p[200:210]) != "Global\\tex" ||
		string(p[len(p)-len(r.Data):]) != string(r.Data) {
		t.Errorf("restore payload: %x", p)
	}
	for _, c := range []struct {
		name string
		edit func([]byte)
		code Code
	}{
		{"unknown flag", func(p []byte) { p[4] |= 0x40 }, CodeBadMessage},
		{"held and released", func(p []byte) { p[4] |= restoreMutexReleased }, CodeInvalid},
		{"too many syncs", func(p []byte) { p[20] = 3 }, CodeInvalid},
		{"too many names", func(p []byte) { p[16] = maxNamesPerResource + 1 }, CodeLimit},
		{"too many NT handles", func(p []byte) { le.PutUint32(p[12:], maxRestoreNT+1) }, CodeLimit},
		{"reserved", func(p []byte) { p[52] = 1 }, CodeBadMessage},
		{"bad kind", func(p []byte) { p[168] = 7 }, CodeInvalid},
		{"data count lies", func(p []byte) { p[24]++ }, CodeBadMessage},
	} {
		m := bytes.Clone(msg)
		c.edit(m[headerSize:])
		if _, err := decodeRequest(m, 3); !errors.Is(err, c.code) {
			t.Errorf("%s: %v, want %v", c.name, err, c.code)
		}
	}
	v1 := bytes.Clone(msg)
	le.PutUint16(v1[4:], protocolVersion1)
	if _, err := decodeRequest(v1, 3); !errors.Is(err, CodeUnknownType) {
		t.Errorf("version-1 RESTORE: %v, want UNKNOWN_TYPE", err)
	}
}

// TestAllocateLayout pins the byte offsets of an ALLOCATE request and of
// version 2's additions to the replies: the flags and GL section of a
// resource record, the origin section of a list entry.
func TestAllocateLayout(t *testing.T) {
	q := request{header: header{Type: msgAllocate, ID: 5}, AllocFlags: allocateFlagHostMemory, Kind: syncTimeline, SyncCount: 1,
		Desc: testAllocation(0).Desc, Device: testAllocation(0).Device, Data: []byte("xy")}
	msg := encodeRequest(q)
	p := msg[headerSize:]
	if le.Uint16(msg[4:]) != 2 || le.Uint16(msg[6:]) != 12 || le.Uint16(msg[16:]) != 0 {
		t.Errorf("allocate header: %x", msg[:headerSize])
	}
	if len(p) != 88+2 || allocateFixed != 88 || le.Uint32(p) != 1 || le.Uint32(p[4:]) != 2 || le.Uint32(p[8:]) != 1 || le.Uint32(p[12:]) != 2 ||
		!bytes.Equal(p[16:56], appendDesc(nil, q.Desc)) || !bytes.Equal(p[56:72], q.Device.Driver[:]) || !bytes.Equal(p[72:88], q.Device.Device[:]) || string(p[88:]) != "xy" {
		t.Errorf("allocate payload: %x", p)
	}

	a := testAllocation(64)
	a.HostMemory, a.Dedicated, a.Desc.MipLevels, a.Desc.CPUAccessFlags = true, false, 3, 0
	tex, err := a.GLTexture()
	if err != nil {
		t.Fatal(err)
	}
	layout, err := bridge.LayoutOf(a.Desc)
	if err != nil {
		t.Fatal(err)
	}
	gl := glSection{Tex: tex, Levels: layout.LevelLayouts()}
	if got := glSectionOf(a); !reflect.DeepEqual(got, gl) {
		t.Errorf("glSectionOf(%+v) = %+v, want %+v", a, got, gl)
	}
	rr := resourceRecord{Handle: 8, KMT: bridge.GlobalHandle(1<<16 | 1), Access: bridge.AccessRead, Kinds: []syncKind{syncBinary}, Alloc: a, ServiceAllocated: true, GL: gl, Data: []byte("d")}
	rec := appendResourceRecord(nil, rr)
	if len(rec) != 24+allocationSize+glSectionSize+3*levelLayoutSize+4+1 || glSectionSize != 48 || levelLayoutSize != 40 {
		t.Fatalf("version-2 record of %d bytes", len(rec))
	}
	if le.Uint32(rec[20:]) != recordFlagServiceAllocated || !bytes.Equal(rec[24:136], appendAllocation(nil, a)) {
		t.Errorf("version-2 record head: %x", rec[:136])
	}
	g := rec[136:]
	for i, want := range []uint32{tex.Target, tex.InternalFormat, tex.Format, tex.Type} {
		if le.Uint32(g[4*i:]) != want {
			t.Errorf("GL section word %d = %#x, want %#x", i, le.Uint32(g[4*i:]), want)
		}
	}
	for i, sw := range tex.Swizzle {
		if g[16+i] != byte(sw) {
			t.Errorf("GL section swizzle %d = %d, want %d", i, g[16+i], sw)
		}
	}
	for i, want := range []uint32{tex.Width, tex.Height, tex.Depth, tex.Levels, tex.Samples, 3, 0} {
		if le.Uint32(g[20+4*i:]) != want {
			t.Errorf("GL section word at %d = %d, want %d", 20+4*i, le.Uint32(g[20+4*i:]), want)
		}
	}
	for i, l := range gl.Levels {
		b := g[glSectionSize+i*levelLayoutSize:]
		if le.Uint64(b) != l.Offset || le.Uint64(b[8:]) != l.SubresourceSize || le.Uint32(b[16:]) != l.Width || le.Uint32(b[20:]) != l.Height ||
			le.Uint32(b[24:]) != l.Depth || le.Uint32(b[28:]) != l.RowPitch || le.Uint32(b[32:]) != l.Rows || le.Uint32(b[36:]) != 0 {
			t.Errorf("GL section level %d: %x, want %+v", i, b[:levelLayoutSize], l)
		}
	}
	if tail := g[glSectionSize+3*levelLayoutSize:]; le.Uint32(tail) != uint32(syncBinary) || string(tail[4:]) != "d" {
		t.Errorf("record tail after the GL section: %x", tail)
	}
	got, err := decodeResourceRecord(rec, protocolVersion)
	rr.Version = protocolVersion
	if err != nil || !reflect.DeepEqual(got, rr) {
		t.Errorf("decodeResourceRecord(version 2) = %+v, %v\nwant %+v", got, err, rr)
	}
	// Version 1 has neither the flag nor the GL section.
	rr.Version = protocolVersion1
	v1 := appendResourceRecord(nil, rr)
	if len(v1) != 24+allocationSize+4+1 || le.Uint32(v1[20:]) != 0 {
		t.Errorf("version-1 record: %x", v1)
	}
	if got, err := decodeResourceRecord(v1, protocolVersion1); err != nil || got.ServiceAllocated || got.GL.Tex.Target != 0 || got.Alloc != a {
		t.Errorf("decodeResourceRecord(version 1) = %+v, %v", got, err)
	}
	// A version-1 peer knows no record flags.
	if _, err := decodeResourceRecord(rec[:24+allocationSize], protocolVersion1); !errors.Is(err, CodeBadMessage) {
		t.Errorf("version-1 record with the service flag: %v", err)
	}
	bad := bytes.Clone(rec)
	bad[20] |= 2
	if _, err := decodeResourceRecord(bad, protocolVersion); !errors.Is(err, CodeBadMessage) {
		t.Errorf("record with an unknown flag: %v", err)
	}
	bad = bytes.Clone(rec)
	le.PutUint32(bad[136+44:], 1)
	if _, err := decodeResourceRecord(bad, protocolVersion); !errors.Is(err, CodeBadMessage) {
		t.Errorf("GL section with its reserved word set: %v", err)
	}
	bad = bytes.Clone(rec)
	le.PutUint32(bad[136+40:], maxLevels+1)
	if _, err := decodeResourceRecord(bad, protocolVersion); !errors.Is(err, CodeBadMessage) {
		t.Errorf("GL section with %d levels: %v", maxLevels+1, err)
	}

	e := listEntry{KMT: bridge.GlobalHandle(1<<16 | 2), Alloc: a, Holders: []Holder{{PID: 1, UID: 2, Conn: 3, Refs: 4}}, ServiceAllocated: true, AllocDevice: "llvmpipe"}
	b := appendListEntry(nil, e)
	origin := b[listEntryFixed+listHolderSize:]
	if len(b) != e.size() || len(origin) != listOriginFixed+8 || le.Uint32(origin) != 1 || le.Uint32(origin[4:]) != 8 || string(origin[8:]) != "llvmpipe" {
		t.Errorf("list origin section: %x", origin)
	}
	list := append(le.AppendUint32(le.AppendUint32(nil, 0), 1), b...)
	e.Version = protocolVersion
	if _, got, err := decodeListReply(list, false, protocolVersion); err != nil || !reflect.DeepEqual(got[0], e) {
		t.Errorf("decodeListReply = %+v, %v\nwant %+v", got, err, e)
	}
	e.Version = protocolVersion1
	if b1 := appendListEntry(nil, e); len(b1) != listEntryFixed+listHolderSize || len(b1) != e.size() {
		t.Errorf("version-1 list entry of %d bytes has an origin section", len(b1))
	}
}

// TestCodesForVersion1: version 2's codes reach a version-1 peer as the
// version-1 codes closest to them, and match the same bridge errors from
// version 2 on.
func TestCodesForVersion1(t *testing.T) {
	for code, want := range map[Code]Code{
		CodeQuota: CodeLimit, CodeNoDevice: CodeUnsupported, CodeUnsupportedFormat: CodeUnsupported,
		CodeInvalidDesc: CodeInvalid, CodeNoSemaphore: CodeUnsupported, CodeNotFound: CodeNotFound, CodeTimeout: CodeTimeout,
	} {
		if got := code.forVersion(protocolVersion1); got != want {
			t.Errorf("%v for version 1 = %v, want %v", code, got, want)
		}
		if got := code.forVersion(protocolVersion); got != code {
			t.Errorf("%v for version 2 = %v", code, got)
		}
	}
	for code, berr := range map[Code]error{
		CodeQuota: bridge.ErrQuota, CodeNoDevice: bridge.ErrNoVulkan, CodeUnsupportedFormat: bridge.ErrUnsupportedFormat,
		CodeInvalidDesc: bridge.ErrInvalidDesc, CodeNoSemaphore: bridge.ErrNoExternalSemaphore,
	} {
		if err := error(&Error{Op: "allocate", Code: code}); !errors.Is(err, code) || !errors.Is(err, berr) {
			t.Errorf("%v does not match %v", code, berr)
		}
		if strings.HasPrefix(code.String(), "error ") {
			t.Errorf("code %d has no name", uint32(code))
		}
	}
	for _, c := range []struct {
		err  error
		code Code
	}{
		{bridge.ErrInvalidDesc, CodeInvalidDesc}, {bridge.ErrUnsupportedFormat, CodeUnsupportedFormat},
		{bridge.ErrNoExternalSemaphore, CodeNoSemaphore}, {bridge.ErrUUIDMismatch, CodeNoDevice}, {bridge.ErrNoVulkan, CodeNoDevice},
		{errors.New("vkAllocateMemory: VK_ERROR_OUT_OF_DEVICE_MEMORY"), CodeInternal},
	} {
		if got := codeOf(fmt.Errorf("vkalloc: %w", c.err)); got.Code != c.code || !strings.Contains(got.Detail, c.err.Error()) {
			t.Errorf("codeOf(%v) = %+v, want %v", c.err, got, c.code)
		}
	}
}

// TestSyncMessageLayouts pins the byte offsets docs/protocol.md gives for
// the synchronisation messages.
func TestSyncMessageLayouts(t *testing.T) {
	p := func(q request) []byte { return encodeRequest(q)[headerSize:] }
	create := p(request{header: header{Type: msgCreate}, Alloc: testAllocation(64), SyncCount: 2, Kinds: []syncKind{syncTimeline, syncBinary}, Data: []byte("xy")})
	if len(create) != 128+8+2 || le.Uint32(create[4:]) != 2 || le.Uint32(create[128:]) != 2 || le.Uint32(create[132:]) != 1 || string(create[136:]) != "xy" {
		t.Errorf("create with syncs: %x", create)
	}
	if h := encodeRequest(request{header: header{Type: msgCreate}, Alloc: testAllocation(64), SyncCount: 2, Kinds: []syncKind{1, 2}}); le.Uint16(h[16:]) != 3 {
		t.Errorf("create with 2 syncs: header num_fds %d, want 3", le.Uint16(h[16:]))
	}
	attach := p(request{header: header{Type: msgAttachSync}, Handle: 0x40000042, Kind: syncTimeline})
	if len(attach) != 8 || le.Uint32(attach) != 0x40000042 || le.Uint32(attach[4:]) != 2 {
		t.Errorf("attach-sync: %x", attach)
	}
	acq := p(request{header: header{Type: msgAcquireSync}, Handle: 8, TimeoutMS: 0xffffffff, Key: 0x0102030405060708})
	if len(acq) != 16 || le.Uint32(acq) != 8 || le.Uint32(acq[4:]) != 0xffffffff || le.Uint64(acq[8:]) != 0x0102030405060708 {
		t.Errorf("acquire-sync: %x", acq)
	}
	rel := p(request{header: header{Type: msgReleaseSync}, Handle: 8, Key: 3, Value: 9})
	if len(rel) != 24 || le.Uint32(rel) != 8 || le.Uint32(rel[4:]) != 0 || le.Uint64(rel[8:]) != 3 || le.Uint64(rel[16:]) != 9 {
		t.Errorf("release-sync: %x", rel)
	}
	rep := appendAcquireReply(nil, acquireReply{Value: 0xaabb, Abandoned: true, Events: 7})
	if len(rep) != 16 || le.Uint64(rep) != 0xaabb || le.Uint32(rep[8:]) != 1 || le.Uint32(rep[12:]) != 7 {
		t.Errorf("acquire reply: %x", rep)
	}
	if ar, err := decodeAcquireReply(rep); ar != (acquireReply{0xaabb, true, 7}) || err != nil {
		t.Errorf("decodeAcquireReply = %+v, %v", ar, err)
	}
	rep[8] = 3
	if _, err := decodeAcquireReply(rep); !errors.Is(err, CodeBadMessage) {
		t.Errorf("acquire reply with an unknown flag: %v", err)
	}
	// Version 1's bytes, which version-1 clients still get.
	rec := appendResourceRecord(nil, resourceRecord{Version: protocolVersion1, Handle: 4, KMT: bridge.GlobalHandle(1<<16 | 1), Access: bridge.AccessRead, Kinds: []syncKind{syncBinary, syncTimeline}, Alloc: testAllocation(64), Data: []byte("d")})
	if le.Uint32(rec[12:]) != 2 || le.Uint32(rec[136:]) != 1 || le.Uint32(rec[140:]) != 2 || string(rec[144:]) != "d" {
		t.Errorf("resource record with syncs: %x", rec[:12])
	}
	if got, err := decodeResourceRecord(rec, protocolVersion1); err != nil || !slices.Equal(got.Kinds, []syncKind{syncBinary, syncTimeline}) || string(got.Data) != "d" {
		t.Errorf("decodeResourceRecord = %+v, %v", got, err)
	}
	e := listEntry{Version: protocolVersion1, KMT: bridge.GlobalHandle(1<<16 | 2), Alloc: testAllocation(64), Sync: &listSync{Kinds: []syncKind{syncTimeline}, State: mutexHeld, HolderPID: 77, HolderConn: 5, Waiters: 3, LastKey: 11, LastValue: 12}}
	b := appendListEntry(nil, e)
	sec := b[listEntryFixed:]
	if len(b) != e.size() || len(sec) != 44 || le.Uint32(sec) != 1 || le.Uint32(sec[4:]) != mutexHeld || le.Uint32(sec[8:]) != 77 ||
		le.Uint32(sec[12:]) != 5 || le.Uint32(sec[16:]) != 3 || le.Uint32(sec[20:]) != 0 || le.Uint64(sec[24:]) != 11 || le.Uint64(sec[32:]) != 12 || le.Uint32(sec[40:]) != 2 {
		t.Errorf("list sync section: %x", sec)
	}
	list := append(le.AppendUint32(le.AppendUint32(nil, 0), 1), b...)
	if _, got, err := decodeListReply(list, true, protocolVersion1); err != nil || !reflect.DeepEqual(got[0], e) {
		t.Errorf("decodeListReply = %+v, %v", got, err)
	}
	if _, _, err := decodeListReply(list, false, protocolVersion1); err == nil {
		t.Errorf("a list with sync sections decoded as one without")
	}
}

func TestRequestRoundTrip(t *testing.T) {
	for _, q := range sampleRequests() {
		msg := encodeRequest(q)
		got, err := decodeRequest(msg, fdsFor(q.Type, q.SyncCount))
		if err != nil {
			t.Fatalf("%v: decode: %v", q.Type, err)
		}
		q.Version, q.PayloadLen, q.NumFDs = cmp.Or(q.Version, protocolVersion), uint32(len(msg)-headerSize), uint16(fdsFor(q.Type, q.SyncCount))
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
		want Code
	}{
		{"bad magic", mut(func(b []byte) []byte { b[0] ^= 1; return b }), 1, CodeBadMessage},
		{"bad version", mut(func(b []byte) []byte { b[4] = 3; return b }), 1, CodeBadVersion},
		{"unknown type", mut(func(b []byte) []byte { b[6] = 0x77; return b }), 1, CodeUnknownType},
		{"length mismatch", mut(func(b []byte) []byte { b[12]++; return b }), 1, CodeBadMessage},
		{"flags", mut(func(b []byte) []byte { b[18] = 1; return b }), 1, CodeBadMessage},
		{"status in request", mut(func(b []byte) []byte { b[20] = 1; return b }), 1, CodeBadMessage},
		{"fd count mismatch", create, 2, CodeBadFDs},
		{"no fd", mut(func(b []byte) []byte { b[16] = 0; return b }), 0, CodeBadFDs},
		{"too many fds", mut(func(b []byte) []byte { b[16] = 9; return b }), 9, CodeBadFDs},
		{"blob too large", mut(func(b []byte) []byte { le.PutUint32(b[headerSize+8:], MaxPrivateData+1); return b }), 1, CodeTooLarge},
		{"blob length lies", mut(func(b []byte) []byte { le.PutUint32(b[headerSize+8:], 3); return b }), 1, CodeBadMessage},
		{"reserved create field", mut(func(b []byte) []byte { b[headerSize+12] = 1; return b }), 1, CodeBadMessage},
		{"sync count too large", mut(func(b []byte) []byte { b[headerSize+4] = MaxSyncObjects + 1; return b }), 1, CodeInvalid},
		{"sync count without kinds", mut(func(b []byte) []byte { b[headerSize+4] = 1; b[16] = 2; return b }), 2, CodeBadMessage},
		{"unknown allocation flag", mut(func(b []byte) []byte { b[headerSize+16+76] = 0x80; return b }), 1, CodeInvalid},
		{"oversized", append(mut(func(b []byte) []byte { le.PutUint32(b[12:], uint32(len(b)-headerSize+maxMessageSize)); return b }), make([]byte, maxMessageSize)...), 1, CodeTooLarge},
	} {
		_, err := decodeRequest(c.msg, c.nfds)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: err = %v, want %v", c.name, err, c.want)
		}
	}
	withSync := encodeRequest(sampleRequests()[11])
	le.PutUint32(withSync[headerSize+128:], 3)
	if _, err := decodeRequest(withSync, 3); !errors.Is(err, CodeInvalid) {
		t.Errorf("unknown sync kind: err = %v, want CodeInvalid", err)
	}
	if _, err := decodeRequest(encodeRequest(sampleRequests()[11]), 1); !errors.Is(err, CodeBadFDs) {
		t.Errorf("create with 2 syncs and 1 fd: err = %v, want CodeBadFDs", err)
	}
	attach := encodeRequest(request{header: header{Type: msgAttachSync}, Handle: 4, Kind: syncBinary})
	if _, err := decodeRequest(attach, 0); !errors.Is(err, CodeBadFDs) {
		t.Errorf("attach-sync without an fd: err = %v, want CodeBadFDs", err)
	}
	le.PutUint32(attach[headerSize+4:], 0)
	if _, err := decodeRequest(attach, 1); !errors.Is(err, CodeInvalid) {
		t.Errorf("attach-sync of kind 0: err = %v, want CodeInvalid", err)
	}
	rel := encodeRequest(request{header: header{Type: msgReleaseSync}, Handle: 4})
	rel[headerSize+4] = 1
	if _, err := decodeRequest(rel, 0); !errors.Is(err, CodeBadMessage) {
		t.Errorf("release-sync with a reserved field set: err = %v, want CodeBadMessage", err)
	}
	list := encodeRequest(request{header: header{Type: msgList}, ListFlags: 4})
	if _, err := decodeRequest(list, 0); !errors.Is(err, CodeBadMessage) {
		t.Errorf("list with an unknown flag: err = %v, want CodeBadMessage", err)
	}
	if _, err := decodeRequest(encodeRequest(request{header: header{Type: msgAcquireSync}, Handle: 4}), 1); !errors.Is(err, CodeBadFDs) {
		t.Errorf("acquire-sync with an fd: err = %v, want CodeBadFDs", err)
	}
	allocate := sampleRequests()[18]
	if allocate.Type != msgAllocate {
		t.Fatalf("sample 18 is %v", allocate.Type)
	}
	amut := func(f func(b []byte)) []byte { b := encodeRequest(allocate); f(b); return b }
	for _, c := range []struct {
		name string
		msg  []byte
		nfds int
		want Code
	}{
		{"allocate in version 1", amut(func(b []byte) { b[4] = 1 }), 0, CodeUnknownType},
		{"allocate with an fd", amut(func(b []byte) { b[16] = 1 }), 1, CodeBadFDs},
		{"allocate flag bit 1", amut(func(b []byte) { b[headerSize] = 2 }), 0, CodeBadMessage},
		{"allocate sync count without a kind", amut(func(b []byte) { b[headerSize+8] = 1 }), 0, CodeInvalid},
		{"allocate kind without a count", amut(func(b []byte) { b[headerSize+4] = 1 }), 0, CodeInvalid},
		{"allocate unknown kind", amut(func(b []byte) { b[headerSize+4], b[headerSize+8] = 9, 1 }), 0, CodeInvalid},
		{"allocate 3 binary", amut(func(b []byte) { b[headerSize+4], b[headerSize+8] = 1, 3 }), 0, CodeInvalid},
		{"allocate 2 timeline", amut(func(b []byte) { b[headerSize+4], b[headerSize+8] = 2, 2 }), 0, CodeInvalid},
		{"allocate host memory with a semaphore", amut(func(b []byte) { b[headerSize], b[headerSize+4], b[headerSize+8] = 1, 2, 1 }), 0, CodeInvalid},
		{"allocate data length lies", amut(func(b []byte) { b[headerSize+12]++ }), 0, CodeBadMessage},
		{"allocate data too large", amut(func(b []byte) { le.PutUint32(b[headerSize+12:], MaxPrivateData+1) }), 0, CodeTooLarge},
		{"allocate truncated", func() []byte { b := encodeRequest(allocate)[:headerSize+40]; le.PutUint32(b[12:], 40); return b }(), 0, CodeBadMessage},
	} {
		if _, err := decodeRequest(c.msg, c.nfds); !errors.Is(err, c.want) {
			t.Errorf("%s: err = %v, want %v", c.name, err, c.want)
		}
	}
	share := encodeRequest(request{header: header{Type: msgShare}, Handle: 4, Access: bridge.AccessRead, Name: "x"})
	le.PutUint32(share[headerSize+8:], MaxNameLen+1)
	if _, err := decodeRequest(share, 0); !errors.Is(err, CodeBadName) {
		t.Errorf("long name length: err = %v, want CodeBadName", err)
	}
}

// FuzzDecodeRequest feeds the broker's decoder arbitrary messages. It must
// never panic, must answer with a *Error, and what it accepts must
// re-encode to the same bytes: the encoding has one form, so nothing is
// accepted that the broker would misread.
func FuzzDecodeRequest(f *testing.F) {
	for _, q := range sampleRequests() {
		f.Add(encodeRequest(q), uint8(fdsFor(q.Type, q.SyncCount)))
	}
	f.Fuzz(func(t *testing.T, msg []byte, nfds uint8) {
		q, err := decodeRequest(msg, int(nfds))
		if err != nil {
			var be *Error
			if !errors.As(err, &be) || be.Code == 0 {
				t.Fatalf("error %v (%T) is not a *Error with a code", err, err)
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
// survive a broken or hostile broker. A list payload is decoded both
// without and with sync sections; any other payload as a resource record
// and as an acquire reply.
func FuzzDecodeReply(f *testing.F) {
	for _, seed := range replySeeds() {
		f.Add(seed.p, seed.isList)
	}
	f.Fuzz(func(t *testing.T, p []byte, isList bool) {
		if isList {
			if _, entries, err := decodeListReplyFlags(p, listFlagSyncState|listFlagHandles, protocolVersion); err == nil {
				again := le.AppendUint32(le.AppendUint32(nil, le.Uint32(p)), uint32(len(entries)))
				for _, e := range entries {
					if e.Handles == nil || e.Sync == nil {
						t.Fatalf("entry %+v lacks the sections asked", e)
					}
					again = appendListEntry(again, e)
				}
				if len(again) != len(p) {
					t.Fatalf("list reply with handles of %d bytes re-encodes to %d", len(p), len(again))
				}
			}
			for _, withSync := range []bool{false, true} {
				_, entries, err := decodeListReply(p, withSync, protocolVersion)
				if err == nil {
					again := le.AppendUint32(le.AppendUint32(nil, le.Uint32(p)), uint32(len(entries)))
					for _, e := range entries {
						if (e.Sync != nil) != withSync {
							t.Fatalf("entry %+v: sync section present %v, asked %v", e, e.Sync != nil, withSync)
						}
						again = appendListEntry(again, e)
					}
					// Same length, not same bytes: a client ignores entry
					// flags it does not know, which a newer broker may set.
					if len(again) != len(p) {
						t.Fatalf("list reply (sync %v) of %d bytes re-encodes to %d", withSync, len(p), len(again))
					}
				}
			}
			return
		}
		for _, v := range []uint16{protocolVersion1, protocolVersion} {
			if rec, err := decodeResourceRecord(p, v); err == nil {
				if len(rec.Data) > MaxPrivateData || len(rec.Kinds) > MaxSyncObjects || len(rec.GL.Levels) > maxLevels {
					t.Fatalf("accepted %d bytes of private data, %d sync objects, %d levels", len(rec.Data), len(rec.Kinds), len(rec.GL.Levels))
				}
				if again := appendResourceRecord(nil, rec); !bytes.Equal(again, p) {
					t.Fatalf("version-%d record re-encodes differently\n in  %x\n out %x", v, p, again)
				}
			}
		}
		if ar, err := decodeAcquireReply(p); err == nil {
			if again := appendAcquireReply(nil, ar); !bytes.Equal(again, p) {
				t.Fatalf("acquire reply re-encodes differently\n in  %x\n out %x", p, again)
			}
		}
		if d, err := decodeDuplicateReply(p); err == nil {
			if again := appendDuplicateReply(nil, d); !bytes.Equal(again, p) {
				t.Fatalf("duplicate reply re-encodes differently\n in  %x\n out %x", p, again)
			}
		}
		if o, err := decodeObjectInfo(p); err == nil {
			if again := appendObjectInfo(nil, o); !bytes.Equal(again, p) {
				t.Fatalf("query-object reply re-encodes differently\n in  %x\n out %x", p, again)
			}
		}
		if v, err := decodeFenceValue(p); err == nil {
			if again := appendFenceValue(nil, v); !bytes.Equal(again, p) {
				t.Fatalf("fence value re-encodes differently\n in  %x\n out %x", p, again)
			}
		}
		if r, err := decodeFenceRecord(p); err == nil {
			if again := appendFenceRecord(nil, r); !bytes.Equal(again, p) {
				t.Fatalf("fence record re-encodes differently\n in  %x\n out %x", p, again)
			}
		}
		if next, entries, err := decodeFenceList(p); err == nil {
			again := le.AppendUint32(le.AppendUint32(nil, next), uint32(len(entries)))
			for _, e := range entries {
				again = appendFenceEntry(again, e)
			}
			if !bytes.Equal(again, p) {
				t.Fatalf("fence list re-encodes differently\n in  %x\n out %x", p, again)
			}
		}
		if m, err := decodeKeyedMutexRecord(p); err == nil {
			if again := appendKeyedMutexRecord(nil, m); !bytes.Equal(again, p) {
				t.Fatalf("keyed-mutex record re-encodes differently\n in  %x\n out %x", p, again)
			}
		}
		if next, entries, err := decodeMutexList(p); err == nil {
			again := le.AppendUint32(le.AppendUint32(nil, next), uint32(len(entries)))
			for _, e := range entries {
				again = appendMutexEntry(again, e)
			}
			if !bytes.Equal(again, p) {
				t.Fatalf("keyed-mutex list re-encodes differently\n in  %x\n out %x", p, again)
			}
		}
		if mask, path, rec, err := decodeOpenDuplicateReply(p); err == nil {
			again := appendResourceRecord(appendOpenDuplicatePrefix(nil, mask, path), rec)
			if !bytes.Equal(again, p) {
				t.Fatalf("open-duplicate reply re-encodes differently\n in  %x\n out %x", p, again)
			}
		}
	})
}

type replySeed struct {
	name   string
	p      []byte
	isList bool
}

func replySeeds() []replySeed {
	list := le.AppendUint32(le.AppendUint32(nil, 0), 1)
	list = appendListEntry(list, listEntry{KMT: bridge.GlobalHandle(1<<16 | 2), CreatorPID: 42, Refs: 2, Alloc: testAllocation(64),
		Names: []string{"a", "bb"}, Holders: []Holder{{PID: 42, UID: 1000, Conn: 1, Refs: 2}}})
	syncList := le.AppendUint32(le.AppendUint32(nil, 0), 2)
	syncList = appendListEntry(syncList, listEntry{KMT: bridge.GlobalHandle(1<<16 | 2), CreatorPID: 42, Refs: 2, Alloc: testAllocation(64),
		Names: []string{"a"}, Holders: []Holder{{PID: 42, UID: 1000, Conn: 1, Refs: 2}},
		Sync: &listSync{Kinds: []syncKind{syncTimeline, syncBinary}, State: mutexHeld, HolderPID: 42, HolderConn: 1, Waiters: 2, LastKey: 1, LastValue: 7}})
	syncList = appendListEntry(syncList, listEntry{KMT: bridge.GlobalHandle(1<<16 | 3), Alloc: testAllocation(64), Sync: &listSync{State: mutexAbandoned, LastKey: 5}})
	hostAlloc := bridge.Allocation{Desc: bridge.Desc{Dimension: bridge.DimensionTexture2D, Width: 37, Height: 20, DepthOrArraySize: 3, MipLevels: 4, SampleCount: 1, Format: bridge.FormatR8G8B8A8Unorm}, HostMemory: true}
	if l, err := bridge.LayoutOf(hostAlloc.Desc); err == nil {
		hostAlloc.Size = l.Size
	}
	originList := le.AppendUint32(le.AppendUint32(nil, 0), 2)
	originList = appendListEntry(originList, listEntry{KMT: bridge.GlobalHandle(1<<16 | 4), CreatorPID: 42, Refs: 1, Alloc: hostAlloc,
		Holders: []Holder{{PID: 42, UID: 1000, Conn: 1, Refs: 1}}, ServiceAllocated: true, AllocDevice: hostMemoryDevice})
	originList = appendListEntry(originList, listEntry{KMT: bridge.GlobalHandle(1<<16 | 5), Alloc: testAllocation(64), ServiceAllocated: true, AllocDevice: "llvmpipe (LLVM 15.0.6, 256 bits)"})
	return []replySeed{
		{"resource-record", appendResourceRecord(nil, resourceRecord{Handle: 4, KMT: bridge.GlobalHandle(1<<16 | 1), Access: bridge.AccessRead, Alloc: testAllocation(64), Data: []byte("blob")}), false},
		{"list-two-entries", list, true},
		{"resource-record-syncs", appendResourceRecord(nil, resourceRecord{Handle: 4, KMT: bridge.GlobalHandle(1<<16 | 1), Access: bridge.AccessRead, Kinds: []syncKind{syncTimeline, syncBinary}, Alloc: testAllocation(64), Data: []byte("blob")}), false},
		{"list-sync-state", syncList, true},
		{"acquire-reply-abandoned", appendAcquireReply(nil, acquireReply{Value: 0x1234, Abandoned: true, Events: 3}), false},
		{"resource-record-gl-host", appendResourceRecord(nil, resourceRecord{Handle: bridge.GlobalHandle(1<<16 | 4), KMT: bridge.GlobalHandle(1<<16 | 4), Access: bridge.AccessReadWrite,
			Alloc: hostAlloc, ServiceAllocated: true, GL: glSectionOf(hostAlloc), Data: []byte("host")}), false},
		{"resource-record-gl-syncs", appendResourceRecord(nil, resourceRecord{Handle: 8, KMT: bridge.GlobalHandle(2<<16 | 5), Access: bridge.AccessRead,
			Kinds: []syncKind{syncTimeline}, Alloc: testAllocation(64), ServiceAllocated: true, GL: glSectionOf(testAllocation(64))}), false},
		{"list-origin", originList, true},
		{"list-handles", appendListEntry(le.AppendUint32(le.AppendUint32(nil, 0), 1), listEntry{KMT: bridge.GlobalHandle(6), Alloc: testAllocation(64),
			Sync: &listSync{State: mutexHeld, HolderPID: 1, HolderConn: 2}, Handles: &listHandles{NTHandles: 3, Transfers: 1, MutexFlags: listMutexAbandoned}}), true},
		{"duplicate-reply", appendDuplicateReply(nil, duplicateReply{Token: 0x0123456789abcdef, Access: bridge.AccessRead, Mask: bridge.AccessStandardRightsRead}), false},
		{"query-object-reply", appendObjectInfo(nil, objectInfo{Handle: 8, KMT: bridge.GlobalHandle(3), Access: bridge.AccessReadWrite, Mask: bridge.AccessGenericAll,
			Type: objectTypeResource, Name: `\Sessions\1\BaseNamedObjects\__winetest_d3d11_image`}), false},
		{"fence-value", appendFenceValue(nil, FenceValue{Value: 3, Signals: 9, Offset: 47}), false},
		{"fence-record", appendFenceRecord(nil, fenceRecord{Handle: 8, KMT: bridge.GlobalHandle(7), Access: bridge.AccessReadWrite, Mask: bridge.AccessGenericAll,
			Kind: syncTimeline, Path: `\Sessions\1\BaseNamedObjects\fence`, FenceValue: FenceValue{Value: 1, Signals: 2}}), false},
		{"fence-list", appendFenceEntry(le.AppendUint32(le.AppendUint32(nil, 0), 1), fenceEntry{KMT: bridge.GlobalHandle(7), CreatorPID: 42, Refs: 2,
			NTHandles: 1, Waiters: 1, CreatorActive: true, Timeline: true, FenceValue: FenceValue{Value: 5, Signals: 6}, Names: []string{"f"}}), false},
		{"fence-record-service", appendFenceRecord(nil, fenceRecord{Handle: bridge.GlobalHandle(9), KMT: bridge.GlobalHandle(9), Access: bridge.AccessReadWrite, Mask: bridge.AccessReadWrite,
			Kind: syncTimeline, Service: true, FenceValue: FenceValue{Value: 4, Signals: 1}}), false},
		{"keyed-mutex-record", appendKeyedMutexRecord(nil, KeyedMutex{KMT: bridge.GlobalHandle(5), Resource: bridge.GlobalHandle(3), Sync: bridge.GlobalHandle(4), Data: []byte{1, 2, 3}}), false},
		{"keyed-mutex-list", appendMutexEntry(appendMutexEntry(le.AppendUint32(le.AppendUint32(nil, 0), 2), KeyedMutexInfo{KMT: bridge.GlobalHandle(5), Resource: bridge.GlobalHandle(3),
			Sync: bridge.GlobalHandle(4), CreatorPID: 42, CreatorActive: true, Refs: 3, DataLen: 6, Events: 2,
			Mutex: MutexState{Held: true, HolderPID: 43, HolderConn: 2, LastKey: 1, LastValue: 9, Waiters: 1}}),
			KeyedMutexInfo{KMT: bridge.GlobalHandle(6), Refs: 1, Mutex: MutexState{Abandoned: true}}), false},
		{"open-duplicate-reply", append(appendOpenDuplicatePrefix(nil, bridge.AccessGenericRead, `\BaseNamedObjects\x`),
			appendResourceRecord(nil, resourceRecord{Handle: 12, KMT: bridge.GlobalHandle(4), Access: bridge.AccessRead, Kinds: []syncKind{syncTimeline},
				Alloc: testAllocation(64), GL: glSectionOf(testAllocation(64)), Data: []byte("d")})...), false},
	}
}

// TestErrorTextCutWhole: an error text over maxErrorText bytes is cut at a
// character boundary, so that it stays valid UTF-8 as the protocol
// promises; one an unknown name of 253 bytes of U+65E5 makes (the case a
// client found) included, through a real broker.
func TestErrorTextCutWhole(t *testing.T) {
	for _, tc := range []struct {
		text string
		n    int
	}{
		{strings.Repeat("日", 100), maxErrorText},
		{"ab" + strings.Repeat("日", 100), maxErrorText},
		{"a" + strings.Repeat("é", 200), maxErrorText},
		{"plain", maxErrorText},
		{"日", 2},
	} {
		got := cutText(tc.text, tc.n)
		if len(got) > tc.n || !utf8.ValidString(got) || !strings.HasPrefix(tc.text, got) || len(tc.text) > tc.n && len(got) < tc.n-3 {
			t.Errorf("cutText(%d bytes, %d) = %d bytes %q", len(tc.text), tc.n, len(got), got)
		}
	}
	c := dial(t, testBroker(t, &Broker{}))
	name := strings.Repeat("日", 84) + "x" // 253 bytes
	_, err := c.OpenName(name, bridge.AccessRead)
	var be *Error
	if !errors.As(err, &be) || be.Code != CodeNotFound {
		t.Fatalf("OpenName of an unknown name: %v", err)
	}
	if !utf8.ValidString(be.Detail) || len(be.Detail) > maxErrorText {
		t.Errorf("NOT_FOUND text of %d bytes is not valid UTF-8 within %d: %q", len(be.Detail), maxErrorText, be.Detail)
	}
}
