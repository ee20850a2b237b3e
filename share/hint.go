package share

import (
	"fmt"
	"strings"

	"github.com/glbridge/glbridge/bridge"
)

// AccessHint tells a copy path what an access will do beyond its
// bridge.Access rights, so that it moves no more than it must. Hints stay
// in the process: the rights are what the broker sees (DXGI bits), the
// hints only how this side copies. On the zero-copy path nothing is
// copied and hints change nothing. The zero value is no hint: the access
// may read anything and is written back as its rights say.
type AccessHint uint32

// Access hints; they combine.
const (
	// WriteDiscard promises that the access overwrites every texel of
	// every subresource before it reads any, as Direct3D says with
	// D3D11_MAP_WRITE_DISCARD, ID3D11DeviceContext1::DiscardResource or
	// a render target about to be cleared whole: the copy path skips the
	// fill, and until the access writes, the texture holds whatever this
	// side last had in it. The write-back happens as for any writing
	// access. It needs rights that write: with bridge.AccessRead alone it
	// panics.
	WriteDiscard AccessHint = 1 << iota

	// DeferWriteBack lets EndAccess (or ReleaseSync) of a writing access
	// on a copy path return as soon as GL has been asked to read the
	// texture back into a pixel buffer, instead of once the bytes are in
	// the shared memory, so that the read-back overlaps what the caller
	// does next. The bytes reach the shared memory in Flush, which the
	// resource's next BeginAccess, AcquireSync and Close call first; a
	// BeginAccess with WriteDiscard, which needs nothing of the shared
	// memory, leaves it pending until that access ends (its own
	// read-back is then queued before the pending one is stored, the two
	// alternating between two pixel buffers). A ReleaseSync deferred so
	// releases the keyed mutex in Flush, once the bytes are there: no
	// other process can acquire a frame that is not whole. Until Flush,
	// no other API or process may access the resource in this process
	// either: the caller calls Flush before it lets them. It has no
	// effect on a read-only access, on the Vulkan side (whose transfers
	// complete before they return) or on block-compressed formats (read
	// back through client memory).
	DeferWriteBack

	allHints = WriteDiscard | DeferWriteBack
)

// String lists the hints as "write-discard|defer-write-back" ("none" for
// no hint).
func (h AccessHint) String() string {
	if h == 0 {
		return "none"
	}
	var w []string
	if h&WriteDiscard != 0 {
		w = append(w, "write-discard")
	}
	if h&DeferWriteBack != 0 {
		w = append(w, "defer-write-back")
	}
	if rest := h &^ allHints; rest != 0 {
		w = append(w, fmt.Sprintf("AccessHint(%#x)", uint32(rest)))
	}
	return strings.Join(w, "|")
}

// checkHint panics on a hint that cannot go with mode: an unknown bit, or
// WriteDiscard on an access that may not write (it would leave the
// texture undefined for a reader).
func checkHint(what string, mode bridge.Access, h AccessHint) {
	if h&^allHints != 0 {
		panic(fmt.Sprintf("share: %s with unknown hint %v", what, h))
	}
	if h&WriteDiscard != 0 && !mode.Writes() {
		panic(fmt.Sprintf("share: %s(%s, %v): WriteDiscard needs an access that writes", what, mode, h))
	}
}

// copyCounts is how many bytes a copy-path resource has moved: filled
// from the shared memory into this side's texture or image, read back
// out of it, and stored into the shared memory. Tests read it
// (export_test.go) to check that each hint moves only what it must.
type copyCounts struct {
	filled, readBack, stored uint64
}

func (r *resource) counts() copyCounts { return r.moved }
