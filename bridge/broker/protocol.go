package broker

import (
	"encoding/binary"
	"fmt"
	"unicode"
	"unicode/utf8"

	"github.com/glbridge/glbridge/bridge"
)

// This file is the broker's wire protocol: constants, handles, error codes
// and the encoders and decoders both sides use. docs/protocol.md is its
// specification for non-Go clients; the two must change together.

// Protocol constants. docs/protocol.md documents each one.
const (
	// protocolMagic opens every message: the bytes "GLBR" read as a
	// little-endian uint32.
	protocolMagic uint32 = 0x52424c47
	// protocolVersion is the version this broker and its client speak:
	// 2 adds ALLOCATE, the GL section of resource records, the origin of
	// list entries and the quota and allocation error codes.
	protocolVersion uint16 = 2
	// protocolVersion1 is the first version, which the broker still
	// serves: its replies to a version-1 request are version 1's bytes
	// and codes.
	protocolVersion1 uint16 = 1
	// headerSize is the size of the fixed message header.
	headerSize = 24
	// MaxPrivateData is the largest private runtime data blob a resource
	// may carry (Direct3D runtimes store at most 64 KiB).
	MaxPrivateData = 64 << 10
	// maxMessageSize caps a whole message, header included: the largest
	// request (a create with a full blob) plus room to spare. Larger
	// messages are refused.
	maxMessageSize = 72 << 10
	// maxFDsPerMessage is the most fds one message may carry: one memory
	// fd plus up to MaxSyncObjects semaphore fds.
	maxFDsPerMessage = 8
	// MaxSyncObjects is the most semaphore fds a resource carries, at
	// create and through ATTACH_SYNC together: one timeline semaphore, or
	// two binary ones (one per direction), is all a hand-off uses.
	MaxSyncObjects = 2
	// infiniteTimeoutMS is the ACQUIRE_SYNC timeout that never expires,
	// Windows' INFINITE.
	infiniteTimeoutMS = 0xffffffff
	// MaxNameLen is the longest name, in bytes of UTF-8.
	MaxNameLen = 255
	// descSize and allocationSize are the encoded sizes of Desc and
	// Allocation.
	descSize       = 40
	allocationSize = 112
	// glSectionSize and levelLayoutSize are the encoded sizes of a
	// version-2 record's GL section and of each host-memory level after
	// it; allocateFixed is an ALLOCATE request's payload before its data.
	glSectionSize   = 48
	levelLayoutSize = 40
	allocateFixed   = 16 + descSize + 32
	// maxErrorText bounds the diagnostic text of an error reply.
	maxErrorText = 256
)

// msgType is a message type; replies set replyBit on the request's type.
type msgType uint16

const (
	msgCreate     msgType = 1
	msgShare      msgType = 2
	msgOpenKMT    msgType = 3
	msgOpenName   msgType = 4
	msgQuery      msgType = 5
	msgUpdateData msgType = 6
	msgClose      msgType = 7
	msgList       msgType = 8
	// msgAttachSync attaches a semaphore fd to a resource created before
	// its semaphore.
	msgAttachSync msgType = 9
	// msgAcquireSync and msgReleaseSync are the resource's keyed mutex
	// (IDXGIKeyedMutex::AcquireSync and ReleaseSync).
	msgAcquireSync msgType = 10
	msgReleaseSync msgType = 11
	// msgAllocate (version 2) asks the broker to allocate a resource on
	// its own helper device, or in host memory, for the caller.
	msgAllocate msgType = 12

	replyBit msgType = 0x8000
	// msgFatal is sent by the broker, with request id 0, just before it
	// drops a connection it cannot talk to.
	msgFatal msgType = 0xffff
)

var msgNames = map[msgType]string{
	msgCreate: "create", msgShare: "share", msgOpenKMT: "open-kmt", msgOpenName: "open-name",
	msgQuery: "query", msgUpdateData: "update-data", msgClose: "close", msgList: "list",
	msgAttachSync: "attach-sync", msgAcquireSync: "acquire-sync", msgReleaseSync: "release-sync",
	msgAllocate: "allocate", msgRestore: "restore", msgDuplicate: "duplicate", msgOpenDuplicate: "open-duplicate",
	msgQueryObject: "query-object", msgCreateFence: "create-fence", msgOpenFence: "open-fence", msgSignalFence: "signal-fence",
	msgWaitFence: "wait-fence", msgGetFence: "get-fence", msgListFences: "list-fences", msgRestoreFence: "restore-fence",
	msgCreateKeyedMutex: "create-keyed-mutex", msgOpenKeyedMutex: "open-keyed-mutex", msgRestoreKeyedMutex: "restore-keyed-mutex",
	msgSetSession: "set-session",
	msgFatal:      "fatal",
}

func (t msgType) String() string {
	if n, ok := msgNames[t&^replyBit]; ok {
		if t&replyBit != 0 && t != msgFatal {
			return n + "-reply"
		}
		return n
	}
	return fmt.Sprintf("msg(%#x)", uint16(t))
}

// maxLiveResources is the most resources a broker keeps alive at once
// (MaxResources may not exceed it): each holds fds in the broker, and the
// KMT handles' 24-bit index space must stay mostly free, so that handles
// are reused only long after they were freed.
const maxLiveResources = 65535

// syncKind is a sync object's kind as it travels on the wire. Zero is
// deliberately invalid, so that a forgotten field is refused.
type syncKind uint32

const (
	syncBinary   syncKind = 1 // binary semaphore, opaque fd
	syncTimeline syncKind = 2 // timeline semaphore, opaque fd
)

func (k syncKind) valid() bool { return k == syncBinary || k == syncTimeline }

func kindOf(timeline bool) syncKind {
	if timeline {
		return syncTimeline
	}
	return syncBinary
}

// String names the kind as glshare prints it.
func (k syncKind) String() string {
	switch k {
	case syncBinary:
		return "binary"
	case syncTimeline:
		return "timeline"
	}
	return fmt.Sprintf("sync(%d)", uint32(k))
}

// acquireFlagAbandoned is bit 0 of an ACQUIRE_SYNC reply's flags.
const acquireFlagAbandoned = 1

// listFlagSyncState is bit 0 of a LIST request's flags: each entry then
// carries the resource's sync section. listFlagHandles (bit 1) adds a
// handles section after it: NT handles, transfers and the keyed mutex's
// lasting abandonment, which the sync section's layout has no room for.
const (
	listFlagSyncState = 1
	listFlagHandles   = 2
	listFlagsKnown    = listFlagSyncState | listFlagHandles
)

// listMutexAbandoned is bit 0 of a handles section's mutex flags: a holder
// went without releasing, and the mutex is abandoned for good.
const listMutexAbandoned = 1

// listHandlesSize is the size of a list entry's handles section.
const listHandlesSize = 16

// listHandles is a list entry's handles section.
type listHandles struct {
	// NTHandles counts the NT handles to the resource on every
	// connection; Transfers the DUPLICATEs of it not yet opened.
	NTHandles, Transfers uint32
	MutexFlags           uint32
}

// Code is a broker error code as it travels in a reply header. It is an
// error, so that callers test for it with errors.Is(err, CodeBadFDs); the
// codes that mean one of bridge's error values (CodeNotFound is
// bridge.ErrNotFound, CodeTimeout bridge.ErrTimeout...) also match that
// value, which is what a caller of the exported API tests for.
type Code uint32

// Broker error codes; docs/protocol.md lists the same numbers, which are
// the protocol's and never change meaning.
const (
	// CodeBadMessage is the code for a malformed message (lengths,
	// reserved fields).
	CodeBadMessage Code = 1
	// CodeBadVersion is the code for a header of a protocol version the
	// broker does not speak, which it answers rather than misread.
	CodeBadVersion Code = 2
	// CodeUnknownType is the code for a message type the broker does not
	// know.
	CodeUnknownType Code = 3
	// CodeTooLarge is the code for a message over maxMessageSize or a
	// field over its limit.
	CodeTooLarge Code = 4
	// CodeBadFDs is the code for a message with the wrong number of fds,
	// more than maxFDsPerMessage, or an fd of the wrong kind. The broker
	// has closed them all, so the sender knows none is kept.
	CodeBadFDs Code = 5
	// CodeBadHandle is the code for a value that is neither a KMT nor an
	// NT handle.
	CodeBadHandle Code = 6
	// CodeNotFound is the code for no such resource, handle or name, or a
	// stale handle. It matches bridge.ErrNotFound.
	CodeNotFound Code = 7
	// CodeAccessDenied is the code for a handle that does not grant what
	// was asked, or a caller that is not the resource's creator. It
	// matches bridge.ErrAccessDenied.
	CodeAccessDenied Code = 8
	// CodeNameTaken is the code for a name another resource already has.
	// It matches bridge.ErrNameTaken.
	CodeNameTaken Code = 9
	// CodeBadName is the code for a name that is empty, too long or has
	// forbidden characters (see ValidName).
	CodeBadName Code = 10
	// CodeLimit is the code for a broker limit (resources, handles,
	// connections) reached. It matches bridge.ErrLimit.
	CodeLimit Code = 11
	// CodeUnsupported is the code for an operation reserved for a later
	// version.
	CodeUnsupported Code = 12
	// CodeInvalid is the code for a field with a value outside its domain.
	CodeInvalid Code = 13
	// CodeInternal is the code for a failure of the broker's own (out of
	// fds, say), not of the request, which may be retried.
	CodeInternal Code = 14
	// CodeTimeout is the code for an AcquireSync whose timeout passed
	// before the keyed mutex was released with its key (WAIT_TIMEOUT). It
	// matches bridge.ErrTimeout.
	CodeTimeout Code = 15
	// CodeQuota (version 2) is the code for a create or allocation that
	// would take its connection or uid over a quota of bytes or
	// resources. It matches bridge.ErrQuota.
	CodeQuota Code = 16
	// CodeNoDevice (version 2) is the code for an allocation the broker
	// has no Vulkan device for: no device of the UUIDs asked, or no
	// Vulkan at all. It matches bridge.ErrNoVulkan.
	CodeNoDevice Code = 17
	// CodeUnsupportedFormat (version 2) is the code for a resource the
	// device cannot export: a format, kind or size it lacks. It matches
	// bridge.ErrUnsupportedFormat.
	CodeUnsupportedFormat Code = 18
	// CodeInvalidDesc (version 2) is the code for a description no
	// Direct3D runtime could have made (bridge.Desc.Validate). It matches
	// bridge.ErrInvalidDesc.
	CodeInvalidDesc Code = 19
	// CodeNoSemaphore (version 2) is the code for an allocation asking
	// for a semaphore kind the device cannot export. It matches
	// bridge.ErrNoExternalSemaphore.
	CodeNoSemaphore Code = 20
)

// v1Codes are what a version-1 peer is told instead of a code version 1
// lacks.
var v1Codes = map[Code]Code{
	CodeQuota: CodeLimit, CodeNoDevice: CodeUnsupported, CodeUnsupportedFormat: CodeUnsupported,
	CodeInvalidDesc: CodeInvalid, CodeNoSemaphore: CodeUnsupported, CodeRestoreRefused: CodeUnsupported,
	CodeWrongType: CodeInvalid,
}

// forVersion is code as a peer speaking version v understands it.
func (e Code) forVersion(v uint16) Code {
	if v == protocolVersion1 {
		if c, ok := v1Codes[e]; ok {
			return c
		}
	}
	return e
}

var errorCodeNames = map[Code]string{
	CodeBadMessage: "bad message", CodeBadVersion: "unsupported protocol version",
	CodeUnknownType: "unknown message type", CodeTooLarge: "too large", CodeBadFDs: "bad fds",
	CodeBadHandle: "malformed handle", CodeNotFound: "not found", CodeAccessDenied: "access denied",
	CodeNameTaken: "name already taken", CodeBadName: "invalid name", CodeLimit: "limit reached",
	CodeUnsupported: "unsupported", CodeInvalid: "invalid argument", CodeInternal: "internal broker error",
	CodeTimeout: "timed out", CodeQuota: "quota exceeded", CodeNoDevice: "no such device",
	CodeUnsupportedFormat: "unsupported format", CodeInvalidDesc: "invalid description",
	CodeNoSemaphore: "no exportable semaphore", CodeRestoreRefused: "restore refused",
	CodeWrongType: "object type mismatch",
}

// codeErrors are the codes that mean one of bridge's error values.
var codeErrors = map[Code]error{
	CodeNotFound: bridge.ErrNotFound, CodeAccessDenied: bridge.ErrAccessDenied,
	CodeNameTaken: bridge.ErrNameTaken, CodeLimit: bridge.ErrLimit, CodeTimeout: bridge.ErrTimeout,
	CodeQuota: bridge.ErrQuota, CodeNoDevice: bridge.ErrNoVulkan, CodeUnsupportedFormat: bridge.ErrUnsupportedFormat,
	CodeInvalidDesc: bridge.ErrInvalidDesc, CodeNoSemaphore: bridge.ErrNoExternalSemaphore,
}

// String names the code as docs/protocol.md does.
func (e Code) String() string {
	if n, ok := errorCodeNames[e]; ok {
		return n
	}
	return fmt.Sprintf("error %d", uint32(e))
}

// Error describes the code: a Code is an error so that callers can test
// what the broker answered with errors.Is, whatever wraps it.
func (e Code) Error() string { return "broker: " + e.String() }

// Is reports whether the code means target, one of bridge's error values.
func (e Code) Is(target error) bool {
	v, ok := codeErrors[e]
	return ok && v == target
}

// Error is an error the broker replied with (or, for malformed
// replies, one the client found). It unwraps to its Code.
type Error struct {
	// Op is the client operation, empty for errors the broker builds.
	Op string
	// Code is what callers test (errors.Is sees it through Unwrap).
	Code Code
	// Detail is the broker's or the client's explanation, for people:
	// its wording is no part of the protocol.
	Detail string
}

// Error formats the operation, the code by name and the broker's detail.
func (e *Error) Error() string {
	s := "broker: "
	if e.Op != "" {
		s += e.Op + ": "
	}
	s += e.Code.String()
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

// Unwrap returns the error code, for errors.Is.
func (e *Error) Unwrap() error { return e.Code }

func perr(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Detail: fmt.Sprintf(format, args...)}
}

// ValidName reports why name cannot name a resource, or nil. A name is 1 to
// MaxNameLen bytes of valid UTF-8 whose every character is a letter, mark,
// number, punctuation, symbol or the ASCII space (Go's unicode.IsPrint):
// no control or format characters, so names print safely. Names are
// case-sensitive.
func ValidName(name string) error {
	if name == "" || len(name) > MaxNameLen {
		return perr(CodeBadName, "length %d not in 1..%d", len(name), MaxNameLen)
	}
	if !utf8.ValidString(name) {
		return perr(CodeBadName, "not valid UTF-8")
	}
	for i, r := range name {
		if !unicode.IsPrint(r) {
			return perr(CodeBadName, "character %U at byte %d is not printable", r, i)
		}
	}
	return nil
}

// checkNameLen refuses a name of n bytes when it is longer than
// MaxNameLen, and checkDataLen private data longer than MaxPrivateData:
// the broker when it decodes a request, the client before it sends one.
func checkNameLen(n int) error {
	if n > MaxNameLen {
		return perr(CodeBadName, "name of %d bytes exceeds %d", n, MaxNameLen)
	}
	return nil
}

func checkDataLen(n int) error {
	if n > MaxPrivateData {
		return perr(CodeTooLarge, "private data of %d bytes exceeds %d", n, MaxPrivateData)
	}
	return nil
}

// header is the fixed message header. Status is 0 in requests.
type header struct {
	Version    uint16
	Type       msgType
	ID         uint32
	PayloadLen uint32
	NumFDs     uint16
	Flags      uint16
	Status     Code
}

var le = binary.LittleEndian

func appendHeader(b []byte, h header) []byte {
	b = le.AppendUint32(b, protocolMagic)
	b = le.AppendUint16(b, h.Version)
	b = le.AppendUint16(b, uint16(h.Type))
	b = le.AppendUint32(b, h.ID)
	b = le.AppendUint32(b, h.PayloadLen)
	b = le.AppendUint16(b, h.NumFDs)
	b = le.AppendUint16(b, h.Flags)
	return le.AppendUint32(b, uint32(h.Status))
}

// errBadMagic is the error for a message that is not this protocol at
// all; the broker drops such a peer rather than guess where its next
// message starts.
var errBadMagic = perr(CodeBadMessage, "bad magic")

// decodeHeader parses the header of the whole message msg. It checks what
// every message must satisfy; the version is left to the caller, which
// answers a foreign version differently from garbage.
func decodeHeader(msg []byte) (header, error) {
	if len(msg) < headerSize {
		if len(msg) >= 4 && le.Uint32(msg) != protocolMagic {
			return header{}, errBadMagic
		}
		return header{}, perr(CodeBadMessage, "message of %d bytes is shorter than the %d-byte header", len(msg), headerSize)
	}
	if le.Uint32(msg) != protocolMagic {
		return header{}, errBadMagic
	}
	h := header{
		Version:    le.Uint16(msg[4:]),
		Type:       msgType(le.Uint16(msg[6:])),
		ID:         le.Uint32(msg[8:]),
		PayloadLen: le.Uint32(msg[12:]),
		NumFDs:     le.Uint16(msg[16:]),
		Flags:      le.Uint16(msg[18:]),
		Status:     Code(le.Uint32(msg[20:])),
	}
	if int64(h.PayloadLen) != int64(len(msg)-headerSize) {
		return h, perr(CodeBadMessage, "header says %d payload bytes, message has %d", h.PayloadLen, len(msg)-headerSize)
	}
	if h.Flags != 0 {
		return h, perr(CodeBadMessage, "reserved header flags %#x set", h.Flags)
	}
	return h, nil
}

// rd reads little-endian fields from a payload, remembering the first
// overrun so that decoders check once at the end.
type rd struct {
	b   []byte
	off int
	bad bool
}

func (r *rd) take(n int) []byte {
	if r.bad || n < 0 || len(r.b)-r.off < n {
		r.bad = true
		return nil
	}
	s := r.b[r.off : r.off+n]
	r.off += n
	return s
}

func (r *rd) u16() uint16 {
	if s := r.take(2); s != nil {
		return le.Uint16(s)
	}
	return 0
}

func (r *rd) u32() uint32 {
	if s := r.take(4); s != nil {
		return le.Uint32(s)
	}
	return 0
}

func (r *rd) u64() uint64 {
	if s := r.take(8); s != nil {
		return le.Uint64(s)
	}
	return 0
}

func (r *rd) rest() int { return len(r.b) - r.off }

// The Allocation record's flags word: bit 0 dedicated, bit 1 host memory.
const (
	allocFlagDedicated  = 1
	allocFlagHostMemory = 2
)

// appendDesc appends the 40-byte wire encoding of d (docs/protocol.md).
func appendDesc(b []byte, d bridge.Desc) []byte {
	for _, v := range [...]uint32{uint32(d.Dimension), d.Width, d.Height, d.DepthOrArraySize,
		d.MipLevels, d.SampleCount, uint32(d.Format), d.BindFlags, d.MiscFlags, d.CPUAccessFlags} {
		b = le.AppendUint32(b, v)
	}
	return b
}

func (r *rd) desc() bridge.Desc {
	return bridge.Desc{
		Dimension: bridge.Dimension(r.u32()), Width: r.u32(), Height: r.u32(), DepthOrArraySize: r.u32(),
		MipLevels: r.u32(), SampleCount: r.u32(), Format: bridge.Format(r.u32()),
		BindFlags: r.u32(), MiscFlags: r.u32(), CPUAccessFlags: r.u32(),
	}
}

// appendAllocation appends the 112-byte wire encoding of a
// (docs/protocol.md).
func appendAllocation(b []byte, a bridge.Allocation) []byte {
	b = appendDesc(b, a.Desc)
	b = le.AppendUint32(b, a.VkFormat)
	b = le.AppendUint32(b, uint32(a.Tiling))
	b = le.AppendUint32(b, a.ImageUsage)
	b = le.AppendUint32(b, a.ImageFlags)
	b = le.AppendUint64(b, a.Size)
	b = le.AppendUint64(b, a.Offset)
	b = le.AppendUint32(b, a.MemoryTypeIndex)
	var flags uint32
	if a.HostMemory {
		flags |= allocFlagHostMemory
	}
	if a.Dedicated {
		flags |= allocFlagDedicated
	}
	b = le.AppendUint32(b, flags)
	b = append(b, a.Device.Driver[:]...)
	return append(b, a.Device.Device[:]...)
}

// allocation decodes an Allocation record. Unknown flag bits are an error,
// so that a later version's meaning is never silently dropped.
func (r *rd) allocation() (bridge.Allocation, error) {
	a := bridge.Allocation{Desc: r.desc()}
	a.VkFormat = r.u32()
	a.Tiling = bridge.Tiling(r.u32())
	a.ImageUsage = r.u32()
	a.ImageFlags = r.u32()
	a.Size = r.u64()
	a.Offset = r.u64()
	a.MemoryTypeIndex = r.u32()
	flags := r.u32()
	copy(a.Device.Driver[:], r.take(16))
	copy(a.Device.Device[:], r.take(16))
	if r.bad {
		return a, perr(CodeBadMessage, "allocation record truncated")
	}
	if flags&^(allocFlagDedicated|allocFlagHostMemory) != 0 {
		return a, perr(CodeInvalid, "unknown allocation flags %#x", flags)
	}
	a.Dedicated = flags&allocFlagDedicated != 0
	a.HostMemory = flags&allocFlagHostMemory != 0
	return a, nil
}

// decodeAllocation decodes the allocationSize-byte wire encoding of an
// Allocation.
func decodeAllocation(b []byte) (bridge.Allocation, error) {
	if len(b) != allocationSize {
		return bridge.Allocation{}, perr(CodeBadMessage, "allocation record is %d bytes, want %d", len(b), allocationSize)
	}
	r := rd{b: b}
	return r.allocation()
}

// request is a decoded request; which fields mean something depends on Type.
type request struct {
	header
	Handle bridge.Handle
	Access bridge.Access
	Name   string
	Alloc  bridge.Allocation
	// SyncCount is len(Kinds) for create.
	SyncCount uint32
	// Kinds are create's sync object kinds, one per sync fd; Kind is
	// attach-sync's.
	Kinds []syncKind
	Kind  syncKind
	Data  []byte
	// Restore is restore's.
	Restore restoreReq
	// Cursor and ListFlags are list's.
	Cursor    uint32
	ListFlags uint32
	// TimeoutMS, Key and Value are acquire-sync's and release-sync's.
	TimeoutMS uint32
	Key       uint64
	Value     uint64
	// AllocFlags, Desc, Device, Kind and SyncCount are allocate's:
	// AllocFlags says host memory, Kind and SyncCount the semaphores
	// wanted (Kind 0 for none).
	AllocFlags uint32
	Desc       bridge.Desc
	Device     bridge.DeviceID
	// Options and TargetPID are duplicate's (with Handle and Access);
	// Token is open-duplicate's.
	Options   uint32
	TargetPID int32
	Token     uint64
	// FenceFlags and Offset are signal-fence's (with Handle and Value);
	// create-fence has Kind and Value, wait-fence Handle, TimeoutMS and
	// Value, open-fence Handle, Access, Name or Token; restore-fence
	// uses Restore.
	FenceFlags uint32
	Offset     uint64
	// Sync is create-keyed-mutex's sync object (with Handle, the resource,
	// and Data).
	Sync bridge.Handle
	// Session is set-session's.
	Session uint32
}

// allocateFlagHostMemory is bit 0 of an ALLOCATE request's flags: the
// resource is to be host memory (a sealed memfd) rather than Vulkan
// memory.
const allocateFlagHostMemory = 1

// fdsFor is the number of fds a request of type t with this many sync
// objects must carry.
func fdsFor(t msgType, syncCount uint32) int {
	switch t {
	case msgCreate, msgRestore:
		return 1 + int(syncCount)
	case msgCreateFence, msgRestoreFence:
		return int(syncCount)
	case msgAttachSync:
		return 1
	}
	return 0
}

// decodeRequest decodes a whole request message that arrived with nfds
// fds. Data aliases msg. Errors are *Error; the header is returned
// whenever it could be read, so that the error can be answered.
func decodeRequest(msg []byte, nfds int) (request, error) {
	h, err := decodeHeader(msg)
	q := request{header: h}
	if err != nil {
		return q, err
	}
	if len(msg) > maxMessageSize {
		return q, perr(CodeTooLarge, "message of %d bytes exceeds %d", len(msg), maxMessageSize)
	}
	if h.Version != protocolVersion && h.Version != protocolVersion1 {
		return q, perr(CodeBadVersion, "version %d, broker speaks %d and %d", h.Version, protocolVersion1, protocolVersion)
	}
	if h.Status != 0 {
		return q, perr(CodeBadMessage, "status %d set in a request", h.Status)
	}
	if nfds > maxFDsPerMessage {
		return q, perr(CodeBadFDs, "%d fds, at most %d allowed", nfds, maxFDsPerMessage)
	}
	if int(h.NumFDs) != nfds {
		return q, perr(CodeBadFDs, "header says %d fds, %d arrived", h.NumFDs, nfds)
	}
	r := rd{b: msg[headerSize:]}
	reserved := func(v uint32) error {
		if v != 0 {
			return perr(CodeBadMessage, "reserved field is %#x, must be 0", v)
		}
		return nil
	}
	switch h.Type {
	case msgCreate:
		flags, sync, dlen, res := r.u32(), r.u32(), r.u32(), r.u32()
		if r.bad {
			break
		}
		if err := reserved(flags | res); err != nil {
			return q, err
		}
		if sync > MaxSyncObjects {
			return q, perr(CodeInvalid, "sync count %d exceeds %d", sync, MaxSyncObjects)
		}
		q.SyncCount = sync
		if err := checkDataLen(int(dlen)); err != nil {
			return q, err
		}
		// Check the length before reading the kinds, so that a count
		// that lies reads as what it is rather than as a strange kind.
		if want := allocationSize + 4*int(sync) + int(dlen); r.rest() != want {
			return q, perr(CodeBadMessage, "create payload has %d bytes after the fixed fields, its counts say %d", r.rest(), want)
		}
		if q.Alloc, err = r.allocation(); err != nil {
			return q, err
		}
		for i := range sync {
			k := syncKind(r.u32())
			if r.bad {
				break
			}
			if !k.valid() {
				return q, perr(CodeInvalid, "sync object %d has unknown kind %d", i, k)
			}
			q.Kinds = append(q.Kinds, k)
		}
		q.Data = r.take(int(dlen))
	case msgShare:
		q.Handle, q.Access = bridge.Handle(r.u32()), bridge.Access(r.u32())
		nlen, res := r.u32(), r.u32()
		if r.bad {
			break
		}
		if err := reserved(res); err != nil {
			return q, err
		}
		if err := checkNameLen(int(nlen)); err != nil {
			return q, err
		}
		q.Name = string(r.take(int(nlen)))
	case msgOpenKMT, msgQuery, msgClose:
		q.Handle = bridge.Handle(r.u32())
		if err := reserved(r.u32()); err != nil && !r.bad {
			return q, err
		}
	case msgAttachSync:
		q.Handle, q.Kind = bridge.Handle(r.u32()), syncKind(r.u32())
		if !r.bad && !q.Kind.valid() {
			return q, perr(CodeInvalid, "unknown sync kind %d", q.Kind)
		}
	case msgAcquireSync:
		q.Handle, q.TimeoutMS, q.Key = bridge.Handle(r.u32()), r.u32(), r.u64()
	case msgReleaseSync:
		q.Handle = bridge.Handle(r.u32())
		res := r.u32()
		q.Key, q.Value = r.u64(), r.u64()
		if err := reserved(res); err != nil && !r.bad {
			return q, err
		}
	case msgOpenName:
		q.Access = bridge.Access(r.u32())
		nlen := r.u32()
		if r.bad {
			break
		}
		if err := checkNameLen(int(nlen)); err != nil {
			return q, err
		}
		q.Name = string(r.take(int(nlen)))
	case msgUpdateData:
		q.Handle = bridge.Handle(r.u32())
		dlen := r.u32()
		if r.bad {
			break
		}
		if err := checkDataLen(int(dlen)); err != nil {
			return q, err
		}
		q.Data = r.take(int(dlen))
	case msgList:
		q.Cursor, q.ListFlags = r.u32(), r.u32()
		if err := reserved(q.ListFlags &^ listFlagsKnown); err != nil && !r.bad {
			return q, err
		}
	case msgAllocate:
		if h.Version < protocolVersion {
			return q, perr(CodeUnknownType, "allocate is version %d's; the request is version %d", protocolVersion, h.Version)
		}
		q.AllocFlags, q.Kind, q.SyncCount = r.u32(), syncKind(r.u32()), r.u32()
		dlen := r.u32()
		q.Desc = r.desc()
		copy(q.Device.Driver[:], r.take(16))
		copy(q.Device.Device[:], r.take(16))
		if r.bad {
			break
		}
		if err := reserved(q.AllocFlags &^ allocateFlagHostMemory); err != nil {
			return q, err
		}
		switch {
		case q.Kind == 0 && q.SyncCount != 0, q.Kind != 0 && !q.Kind.valid():
			return q, perr(CodeInvalid, "sync kind %d with count %d", q.Kind, q.SyncCount)
		case q.Kind != 0 && (q.SyncCount == 0 || q.SyncCount > MaxSyncObjects):
			return q, perr(CodeInvalid, "sync count %d not in 1..%d", q.SyncCount, MaxSyncObjects)
		case q.Kind == syncTimeline && q.SyncCount != 1:
			return q, perr(CodeInvalid, "%d timeline semaphores: a resource has one", q.SyncCount)
		case q.AllocFlags&allocateFlagHostMemory != 0 && q.Kind != 0:
			return q, perr(CodeInvalid, "host memory has no semaphores")
		}
		if err := checkDataLen(int(dlen)); err != nil {
			return q, err
		}
		if int(h.PayloadLen) != allocateFixed+int(dlen) {
			return q, perr(CodeBadMessage, "allocate payload has %d bytes, its data count says %d", h.PayloadLen, allocateFixed+int(dlen))
		}
		q.Data = r.take(int(dlen))
	case msgRestore:
		if h.Version < protocolVersion {
			return q, perr(CodeUnknownType, "restore is version %d's; the request is version %d", protocolVersion, h.Version)
		}
		if q.Restore, err = r.restore(); err != nil {
			return q, err
		}
		q.SyncCount = uint32(len(q.Restore.Kinds))
	default:
		var known bool
		for _, decode := range [...]func(*request, *rd) (bool, error){decodeFenceRequest, decodeHandleRequest, decodeKeyedMutexRequest, decodeSessionRequest} {
			if known, err = decode(&q, &r); known {
				break
			}
		}
		if err != nil {
			return q, err
		}
		if !known {
			return q, perr(CodeUnknownType, "type %#x", uint16(h.Type))
		}
	}
	if r.bad {
		return q, perr(CodeBadMessage, "%v payload of %d bytes is truncated", h.Type, h.PayloadLen)
	}
	if r.rest() != 0 {
		return q, perr(CodeBadMessage, "%d bytes after the end of the %v payload", r.rest(), h.Type)
	}
	if want := fdsFor(h.Type, q.SyncCount); nfds != want {
		return q, perr(CodeBadFDs, "%v carries %d fds, want %d", h.Type, nfds, want)
	}
	return q, nil
}

// encodeRequest is decodeRequest's inverse, used by the client and the
// tests. It panics on values no request may carry: those are bugs of the
// caller, which validates user input first.
func encodeRequest(q request) []byte {
	var p []byte
	switch q.Type {
	case msgCreate:
		if int(q.SyncCount) != len(q.Kinds) {
			panic(fmt.Sprintf("broker: encodeRequest: create with sync count %d and %d kinds", q.SyncCount, len(q.Kinds)))
		}
		p = le.AppendUint32(p, 0)
		p = le.AppendUint32(p, q.SyncCount)
		p = le.AppendUint32(p, uint32(len(q.Data)))
		p = le.AppendUint32(p, 0)
		p = appendAllocation(p, q.Alloc)
		for _, k := range q.Kinds {
			p = le.AppendUint32(p, uint32(k))
		}
		p = append(p, q.Data...)
	case msgShare:
		p = le.AppendUint32(p, uint32(q.Handle))
		p = le.AppendUint32(p, uint32(q.Access))
		p = le.AppendUint32(p, uint32(len(q.Name)))
		p = le.AppendUint32(p, 0)
		p = append(p, q.Name...)
	case msgOpenKMT, msgQuery, msgClose:
		p = le.AppendUint32(p, uint32(q.Handle))
		p = le.AppendUint32(p, 0)
	case msgAttachSync:
		p = le.AppendUint32(p, uint32(q.Handle))
		p = le.AppendUint32(p, uint32(q.Kind))
	case msgAcquireSync:
		p = le.AppendUint32(p, uint32(q.Handle))
		p = le.AppendUint32(p, q.TimeoutMS)
		p = le.AppendUint64(p, q.Key)
	case msgReleaseSync:
		p = le.AppendUint32(p, uint32(q.Handle))
		p = le.AppendUint32(p, 0)
		p = le.AppendUint64(p, q.Key)
		p = le.AppendUint64(p, q.Value)
	case msgOpenName:
		p = le.AppendUint32(p, uint32(q.Access))
		p = le.AppendUint32(p, uint32(len(q.Name)))
		p = append(p, q.Name...)
	case msgUpdateData:
		p = le.AppendUint32(p, uint32(q.Handle))
		p = le.AppendUint32(p, uint32(len(q.Data)))
		p = append(p, q.Data...)
	case msgList:
		p = le.AppendUint32(p, q.Cursor)
		p = le.AppendUint32(p, q.ListFlags)
	case msgAllocate:
		p = le.AppendUint32(p, q.AllocFlags)
		p = le.AppendUint32(p, uint32(q.Kind))
		p = le.AppendUint32(p, q.SyncCount)
		p = le.AppendUint32(p, uint32(len(q.Data)))
		p = appendDesc(p, q.Desc)
		p = append(p, q.Device.Driver[:]...)
		p = append(p, q.Device.Device[:]...)
		p = append(p, q.Data...)
	case msgRestore:
		p = appendRestore(p, q.Restore)
		q.SyncCount = uint32(len(q.Restore.Kinds))
	default:
		var known bool
		if p, known = appendFenceRequest(p, &q); !known {
			for _, appendReq := range [...]func([]byte, request) ([]byte, bool){appendHandleRequest, appendKeyedMutexRequest, appendSessionRequest} {
				if p, known = appendReq(p, q); known {
					break
				}
			}
		}
		if !known {
			panic(fmt.Sprintf("broker: encodeRequest: unknown type %v", q.Type))
		}
	}
	h := q.header
	if h.Version == 0 {
		h.Version = protocolVersion
	}
	h.PayloadLen = uint32(len(p))
	h.NumFDs = uint16(fdsFor(q.Type, q.SyncCount))
	b := appendHeader(make([]byte, 0, headerSize+len(p)), h)
	return append(b, p...)
}

// resourceRecord is the body of open, open-name, query and allocate
// replies. Kinds has one entry per sync object, in the order of their fds.
// Version is the protocol version it is encoded in (0: the current one);
// ServiceAllocated and GL exist from version 2 on.
type resourceRecord struct {
	Version          uint16
	Handle           bridge.Handle
	KMT              bridge.Handle
	Access           bridge.Access
	Kinds            []syncKind
	Alloc            bridge.Allocation
	ServiceAllocated bool
	GL               glSection
	Data             []byte
}

// recordFlagServiceAllocated is bit 0 of a version-2 record's flags: the
// broker allocated the memory (ALLOCATE), rather than a client (CREATE).
const recordFlagServiceAllocated = 1

// glSection is a version-2 record's GL section: what a GL importer needs,
// read from the record alone so that it needs no format table
// (bridge.Allocation.GLTexture) and, for host memory, where each level
// lies (bridge.HostLayout). A zero Tex.Target says GL cannot view the
// resource as a texture: a buffer, or a format or kind GL lacks.
type glSection struct {
	Tex    bridge.GLTexture
	Levels []bridge.LevelLayout
}

// glSectionOf computes the GL section of a record.
func glSectionOf(a bridge.Allocation) glSection {
	var g glSection
	if a.Desc.Dimension == bridge.DimensionBuffer {
		return g
	}
	if t, err := a.GLTexture(); err == nil {
		g.Tex = t
	}
	if a.HostMemory {
		if l, err := bridge.LayoutOf(a.Desc); err == nil {
			g.Levels = l.LevelLayouts()
		}
	}
	return g
}

func appendGLSection(b []byte, g glSection) []byte {
	t := g.Tex
	for _, v := range [...]uint32{t.Target, t.InternalFormat, t.Format, t.Type} {
		b = le.AppendUint32(b, v)
	}
	for _, sw := range t.Swizzle {
		b = append(b, byte(sw))
	}
	for _, v := range [...]uint32{t.Width, t.Height, t.Depth, t.Levels, t.Samples, uint32(len(g.Levels)), 0} {
		b = le.AppendUint32(b, v)
	}
	for _, l := range g.Levels {
		b = le.AppendUint64(b, l.Offset)
		b = le.AppendUint64(b, l.SubresourceSize)
		for _, v := range [...]uint32{l.Width, l.Height, l.Depth, l.RowPitch, l.Rows, 0} {
			b = le.AppendUint32(b, v)
		}
	}
	return b
}

// maxLevels bounds a GL section's host-memory levels: a full mip chain
// of the largest texture Direct3D allows.
const maxLevels = 15

func (r *rd) glSection() (glSection, error) {
	var g glSection
	if r.rest() < glSectionSize {
		return g, perr(CodeBadMessage, "GL section truncated")
	}
	t := &g.Tex
	t.Target, t.InternalFormat, t.Format, t.Type = r.u32(), r.u32(), r.u32(), r.u32()
	for i, b := range r.take(4) {
		t.Swizzle[i] = bridge.Swizzle(b)
	}
	t.Width, t.Height, t.Depth, t.Levels, t.Samples = r.u32(), r.u32(), r.u32(), r.u32(), r.u32()
	n, res := r.u32(), r.u32()
	if r.bad || n > maxLevels || res != 0 || int(n)*levelLayoutSize > r.rest() {
		return g, perr(CodeBadMessage, "GL section: %d levels, reserved %#x", n, res)
	}
	for range n {
		l := bridge.LevelLayout{Offset: r.u64(), SubresourceSize: r.u64()}
		l.Width, l.Height, l.Depth, l.RowPitch, l.Rows = r.u32(), r.u32(), r.u32(), r.u32(), r.u32()
		if r.u32() != 0 {
			return g, perr(CodeBadMessage, "GL section: reserved level field set")
		}
		g.Levels = append(g.Levels, l)
	}
	if r.bad {
		return g, perr(CodeBadMessage, "GL section truncated")
	}
	return g, nil
}

func appendResourceRecord(b []byte, r resourceRecord) []byte {
	b = le.AppendUint32(b, uint32(r.Handle))
	b = le.AppendUint32(b, uint32(r.KMT))
	b = le.AppendUint32(b, uint32(r.Access))
	b = le.AppendUint32(b, uint32(len(r.Kinds)))
	b = le.AppendUint32(b, uint32(len(r.Data)))
	var flags uint32
	if r.ServiceAllocated && r.Version != protocolVersion1 {
		flags |= recordFlagServiceAllocated
	}
	b = le.AppendUint32(b, flags)
	b = appendAllocation(b, r.Alloc)
	if r.Version != protocolVersion1 {
		b = appendGLSection(b, r.GL)
	}
	for _, k := range r.Kinds {
		b = le.AppendUint32(b, uint32(k))
	}
	return append(b, r.Data...)
}

// decodeResourceRecord decodes a record encoded in protocol version v.
func decodeResourceRecord(p []byte, v uint16) (resourceRecord, error) {
	r := rd{b: p}
	rec := resourceRecord{Version: v, Handle: bridge.Handle(r.u32()), KMT: bridge.Handle(r.u32()), Access: bridge.Access(r.u32())}
	nsync := r.u32()
	dlen := r.u32()
	flags := r.u32()
	known := uint32(recordFlagServiceAllocated)
	if v == protocolVersion1 {
		known = 0
	}
	if flags&^known != 0 {
		return rec, perr(CodeBadMessage, "resource record: unknown flags %#x", flags)
	}
	rec.ServiceAllocated = flags&recordFlagServiceAllocated != 0
	var err error
	if rec.Alloc, err = r.allocation(); err != nil {
		return rec, err
	}
	if v != protocolVersion1 {
		if rec.GL, err = r.glSection(); err != nil {
			return rec, err
		}
	}
	if nsync > MaxSyncObjects {
		return rec, perr(CodeBadMessage, "resource record: %d sync objects", nsync)
	}
	for range nsync {
		k := syncKind(r.u32())
		if r.bad || !k.valid() {
			return rec, perr(CodeBadMessage, "resource record: sync kind %d", k)
		}
		rec.Kinds = append(rec.Kinds, k)
	}
	if dlen > MaxPrivateData || int(dlen) != r.rest() {
		return rec, perr(CodeBadMessage, "resource record: data length %d, %d bytes left", dlen, r.rest())
	}
	rec.Data = append([]byte(nil), r.take(int(dlen))...)
	return rec, nil
}

// listEntry is one resource in a list reply.
type listEntry struct {
	KMT           bridge.Handle
	CreatorPID    int32
	Refs          uint32
	DataLen       uint32
	CreatorActive bool
	Alloc         bridge.Allocation
	Names         []string
	Holders       []Holder
	// Version is the protocol version the entry is encoded in (0: the
	// current one). From version 2 on an origin section follows the
	// holders: ServiceAllocated, and the name of the broker's device
	// that allocated the memory.
	Version          uint16
	ServiceAllocated bool
	AllocDevice      string
	// Sync is the sync section, present when the list asked for it;
	// Handles the handles section, likewise.
	Sync    *listSync
	Handles *listHandles
}

// listOriginFixed is the fixed part of a version-2 list entry's origin
// section; the device name follows it.
const listOriginFixed = 8

// listSync is a list entry's sync section: the sync objects and the
// keyed mutex.
type listSync struct {
	Kinds      []syncKind
	State      uint32 // mutexFree, mutexHeld or mutexAbandoned
	HolderPID  int32
	HolderConn uint32
	Waiters    uint32
	LastKey    uint64
	LastValue  uint64
}

// Keyed mutex states in a list entry's sync section.
const (
	mutexFree      = 0
	mutexHeld      = 1
	mutexAbandoned = 2
	listSyncFixed  = 40
)

const (
	listEntryFixed   = 24 + allocationSize
	listHolderSize   = 16
	listFlagCreator  = 1
	listReplyFixed   = 8
	listMaxHolders   = 2048
	listEntryNameLen = 2
)

func (e *listEntry) size() int {
	n := listEntryFixed + len(e.Holders)*listHolderSize
	for _, s := range e.Names {
		n += listEntryNameLen + len(s)
	}
	if e.Version != protocolVersion1 {
		n += listOriginFixed + len(e.AllocDevice)
	}
	if e.Sync != nil {
		n += listSyncFixed + 4*len(e.Sync.Kinds)
	}
	if e.Handles != nil {
		n += listHandlesSize
	}
	return n
}

func appendListEntry(b []byte, e listEntry) []byte {
	b = le.AppendUint32(b, uint32(e.KMT))
	b = le.AppendUint32(b, uint32(e.CreatorPID))
	b = le.AppendUint32(b, e.Refs)
	b = le.AppendUint16(b, uint16(len(e.Names)))
	b = le.AppendUint16(b, uint16(len(e.Holders)))
	b = le.AppendUint32(b, e.DataLen)
	var flags uint32
	if e.CreatorActive {
		flags |= listFlagCreator
	}
	b = le.AppendUint32(b, flags)
	b = appendAllocation(b, e.Alloc)
	for _, s := range e.Names {
		b = le.AppendUint16(b, uint16(len(s)))
		b = append(b, s...)
	}
	for _, h := range e.Holders {
		b = le.AppendUint32(b, uint32(h.PID))
		b = le.AppendUint32(b, h.UID)
		b = le.AppendUint32(b, h.Conn)
		b = le.AppendUint32(b, uint32(h.Refs))
	}
	if e.Version != protocolVersion1 {
		var flags uint32
		if e.ServiceAllocated {
			flags |= recordFlagServiceAllocated
		}
		b = le.AppendUint32(b, flags)
		b = le.AppendUint32(b, uint32(len(e.AllocDevice)))
		b = append(b, e.AllocDevice...)
	}
	if s := e.Sync; s != nil {
		b = le.AppendUint32(b, uint32(len(s.Kinds)))
		b = le.AppendUint32(b, s.State)
		b = le.AppendUint32(b, uint32(s.HolderPID))
		b = le.AppendUint32(b, s.HolderConn)
		b = le.AppendUint32(b, s.Waiters)
		b = le.AppendUint32(b, 0)
		b = le.AppendUint64(b, s.LastKey)
		b = le.AppendUint64(b, s.LastValue)
		for _, k := range s.Kinds {
			b = le.AppendUint32(b, uint32(k))
		}
	}
	if h := e.Handles; h != nil {
		b = le.AppendUint32(b, h.NTHandles)
		b = le.AppendUint32(b, h.Transfers)
		b = le.AppendUint32(b, h.MutexFlags)
		b = le.AppendUint32(b, 0)
	}
	return b
}

// decodeListReply decodes a list reply of protocol version v; withSync
// says the request asked for sync sections.
func decodeListReply(p []byte, withSync bool, v uint16) (next uint32, entries []listEntry, err error) {
	var flags uint32
	if withSync {
		flags = listFlagSyncState
	}
	return decodeListReplyFlags(p, flags, v)
}

// decodeListReplyFlags decodes a list reply to a request of these flags.
func decodeListReplyFlags(p []byte, flags uint32, v uint16) (next uint32, entries []listEntry, err error) {
	withSync := flags&listFlagSyncState != 0
	r := rd{b: p}
	next = r.u32()
	count := r.u32()
	if r.bad || uint64(count)*listEntryFixed > uint64(r.rest()) {
		return 0, nil, perr(CodeBadMessage, "list reply: %d entries in %d bytes", count, len(p))
	}
	entries = make([]listEntry, 0, count)
	for range count {
		e := listEntry{Version: v}
		e.KMT = bridge.Handle(r.u32())
		e.CreatorPID = int32(r.u32())
		e.Refs = r.u32()
		nn, nh := r.u16(), r.u16()
		e.DataLen = r.u32()
		e.CreatorActive = r.u32()&listFlagCreator != 0
		if e.Alloc, err = r.allocation(); err != nil {
			return 0, nil, err
		}
		for range nn {
			l := r.u16()
			e.Names = append(e.Names, string(r.take(int(l))))
		}
		if r.bad || int(nh)*listHolderSize > r.rest() {
			return 0, nil, perr(CodeBadMessage, "list reply truncated")
		}
		for range nh {
			e.Holders = append(e.Holders, Holder{PID: int32(r.u32()), UID: r.u32(), Conn: r.u32(), Refs: int(r.u32())})
		}
		if v != protocolVersion1 {
			flags, n := r.u32(), r.u32()
			if r.bad || flags&^recordFlagServiceAllocated != 0 || n > MaxNameLen {
				return 0, nil, perr(CodeBadMessage, "list reply: bad origin section")
			}
			e.ServiceAllocated = flags&recordFlagServiceAllocated != 0
			e.AllocDevice = string(r.take(int(n)))
		}
		if withSync {
			s := &listSync{}
			nsync := r.u32()
			s.State, s.HolderPID, s.HolderConn, s.Waiters = r.u32(), int32(r.u32()), r.u32(), r.u32()
			res := r.u32()
			s.LastKey, s.LastValue = r.u64(), r.u64()
			if r.bad || nsync > MaxSyncObjects || s.State > mutexAbandoned || res != 0 {
				return 0, nil, perr(CodeBadMessage, "list reply: bad sync section")
			}
			for range nsync {
				k := syncKind(r.u32())
				if r.bad || !k.valid() {
					return 0, nil, perr(CodeBadMessage, "list reply: sync kind %d", k)
				}
				s.Kinds = append(s.Kinds, k)
			}
			e.Sync = s
		}
		if flags&listFlagHandles != 0 {
			h := &listHandles{NTHandles: r.u32(), Transfers: r.u32(), MutexFlags: r.u32()}
			if res := r.u32(); r.bad || h.MutexFlags&^listMutexAbandoned != 0 || res != 0 {
				return 0, nil, perr(CodeBadMessage, "list reply: bad handles section")
			}
			e.Handles = h
		}
		entries = append(entries, e)
	}
	if r.bad || r.rest() != 0 {
		return 0, nil, perr(CodeBadMessage, "list reply has %d stray bytes", r.rest())
	}
	return next, entries, nil
}

// fixedPayload is the payload of the replies that carry only numbers
// (create, share, attach-sync: two; update-data, close, release-sync:
// none), which the client reads back with clientReply.fixed.
func fixedPayload(vs ...uint32) []byte {
	var b []byte
	for _, v := range vs {
		b = le.AppendUint32(b, v)
	}
	return b
}

// acquireReplySize is the payload size of an ACQUIRE_SYNC reply.
const acquireReplySize = 16

// acquireReply is an ACQUIRE_SYNC reply. Events is how many releases and
// abandonments the keyed mutex saw before this acquire (mod 2^32): a
// restoring client sends it back (restoreReq.MutexEvents), and the claim
// with the most events is the latest, which is how a broker after a
// restart tells whose view of the mutex is current.
type acquireReply struct {
	Value     uint64
	Abandoned bool
	Events    uint32
}

func appendAcquireReply(b []byte, r acquireReply) []byte {
	var flags uint32
	if r.Abandoned {
		flags |= acquireFlagAbandoned
	}
	b = le.AppendUint64(b, r.Value)
	b = le.AppendUint32(b, flags)
	return le.AppendUint32(b, r.Events)
}

func decodeAcquireReply(p []byte) (acquireReply, error) {
	if len(p) != acquireReplySize {
		return acquireReply{}, perr(CodeBadMessage, "acquire reply of %d bytes, want %d", len(p), acquireReplySize)
	}
	flags := le.Uint32(p[8:])
	if flags&^acquireFlagAbandoned != 0 {
		return acquireReply{}, perr(CodeBadMessage, "acquire reply flags %#x", flags)
	}
	return acquireReply{Value: le.Uint64(p), Abandoned: flags&acquireFlagAbandoned != 0, Events: le.Uint32(p[12:])}, nil
}
