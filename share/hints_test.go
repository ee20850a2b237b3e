package share_test

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/go-gl/gl/v3.2-compatibility/gl"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/bridge/broker"
	"github.com/glbridge/glbridge/internal/glutil"
	"github.com/glbridge/glbridge/share"
)

// hintSize is the texture the hint tests use: 256 KiB of RGBA8, four of
// host memory's 64 KiB store chunks, so that a write to the first 64 rows
// stores one of them.
const hintSize = 256

var hintBytes = uint64(hintSize * hintSize * 4)

// copyModes are the pairings whose GL side copies: Vulkan memory (the
// Vulkan side copying too, or importing it zero-copy as DXVK would) and
// host memory.
func copyModes(t *testing.T, f func(t *testing.T, m mode, e *glEnv, v *share.Vulkan)) {
	for _, m := range modes {
		if m.name != "forced-copy" && m.name != "gl-only" && m.name != "deny-memory-object" {
			continue
		}
		t.Run(m.name, func(t *testing.T) { f(t, m, testGL(t, m.gl), testVulkan(t, m.vk)) })
	}
}

// colour is a clear colour whose bytes every API converts exactly.
func colour(c [4]byte) [4]float32 {
	return [4]float32{float32(c[0]) / 255, float32(c[1]) / 255, float32(c[2]) / 255, float32(c[3]) / 255}
}

// solid is n texels of c.
func solid(n int, c [4]byte) []byte { return bytes.Repeat(c[:], n) }

// glDo runs f on GL's thread inside an access of p.gr with mode and hint,
// and returns what the copy path moved for it.
func glDo(t *testing.T, p *pair, mode bridge.Access, hint share.AccessHint, f func(name, target uint32) error) share.Moved {
	t.Helper()
	var moved share.Moved
	var err error
	p.e.ctx.Call(func() {
		before := share.MovedBy(p.gr)
		if err = p.gr.BeginAccessWith(mode, hint); err != nil {
			return
		}
		name, target := p.gr.Texture()
		err = cmp.Or(f(name, target), p.gr.EndAccess())
		moved = share.MovedBy(p.gr).Sub(before)
	})
	if err != nil {
		t.Fatal(err)
	}
	return moved
}

// glClear clears the whole texture to c.
func glClear(c [4]byte) func(name, target uint32) error {
	return func(name, target uint32) error {
		f := colour(c)
		return glutil.ClearTexture(name, target, 0, f[0], f[1], f[2], f[3])
	}
}

// glSees reads the GL texture inside a read access.
func glSees(t *testing.T, p *pair) (px []byte, moved share.Moved) {
	t.Helper()
	moved = glDo(t, p, bridge.AccessRead, 0, func(name, target uint32) (err error) {
		px, err = glutil.ReadRGBA8(name, target, 0, hintSize, hintSize)
		return err
	})
	return px, moved
}

// vkSees reads the Vulkan side's image inside a read access.
func vkSees(t *testing.T, p *pair) []byte {
	t.Helper()
	if err := p.vr.BeginAccess(bridge.AccessRead); err != nil {
		t.Fatal(err)
	}
	px, err := p.vr.ReadPixels(bridge.Subresource{})
	if err := cmp.Or(err, p.vr.EndAccess()); err != nil {
		t.Fatal(err)
	}
	return px
}

func wantTexels(t *testing.T, who string, got, want []byte) {
	t.Helper()
	if !bytes.Equal(got, want) {
		i := firstDiff(got, want)
		t.Fatalf("%s: texel %d differs (of %d bytes, want %d)", who, i/4, len(got), len(want))
	}
}

func wantMoved(t *testing.T, what string, got, want share.Moved) {
	t.Helper()
	if got != want {
		t.Fatalf("%s moved %+v bytes; want %+v", what, got, want)
	}
}

// TestGLAccessHints: on every copy path GL's fill and write-back move
// only what each access needs, counted in bytes, and the other side sees
// exactly GL's texels: a read stores nothing; a writing access that
// changed nothing stores nothing; WriteDiscard skips the fill and still
// writes back; a write to the first 64 rows stores one 64 KiB chunk of
// host memory (the whole subresource of a Vulkan image); DeferWriteBack
// stores a frame only when the next one ends (or at Flush), whole.
func TestGLAccessHints(t *testing.T) {
	a, b, c, d, e2, f := [4]byte{255, 0, 0, 255}, [4]byte{0, 51, 102, 153}, [4]byte{17, 34, 68, 255},
		[4]byte{0, 255, 0, 255}, [4]byte{255, 255, 0, 0}, [4]byte{85, 170, 255, 255}
	n := hintSize * hintSize
	copyModes(t, func(t *testing.T, m mode, e *glEnv, v *share.Vulkan) {
		p := newPair(t, m, e, v, desc2D(hintSize, hintSize, bridge.FormatR8G8B8A8Unorm))
		defer p.close()
		host := p.gr.Allocation().HostMemory
		// A discard or partial write over a Vulkan image stores whole
		// subresources; host memory stores the chunks that changed.
		granular := func(hostBytes uint64) uint64 {
			if host {
				return hostBytes
			}
			return hintBytes
		}
		if err := p.vr.Access(bridge.AccessReadWrite, func() error { return p.vr.Clear(colour(a)) }); err != nil {
			t.Fatal(err)
		}

		px, moved := glSees(t, p)
		wantTexels(t, "GL after the Vulkan clear", px, solid(n, a))
		wantMoved(t, "a read access", moved, share.Moved{Filled: hintBytes})

		moved = glDo(t, p, bridge.AccessReadWrite, 0, func(uint32, uint32) error { return nil })
		wantMoved(t, "a writing access that wrote nothing", moved, share.Moved{Filled: hintBytes, ReadBack: hintBytes})
		wantTexels(t, "Vulkan after an unchanged write", vkSees(t, p), solid(n, a))

		moved = glDo(t, p, bridge.AccessReadWrite, share.WriteDiscard, glClear(b))
		wantMoved(t, "a WriteDiscard access", moved, share.Moved{ReadBack: hintBytes, Stored: hintBytes})
		wantTexels(t, "Vulkan after a WriteDiscard clear", vkSees(t, p), solid(n, b))

		moved = glDo(t, p, bridge.AccessReadWrite, share.WriteDiscard, glClear(b))
		wantMoved(t, "a WriteDiscard access writing what was there", moved, share.Moved{ReadBack: hintBytes, Stored: granular(0)})
		wantTexels(t, "Vulkan after the same clear again", vkSees(t, p), solid(n, b))

		// GL's rows 0-63 are the first 64 KiB in memory.
		rows := solid(hintSize*64, c)
		moved = glDo(t, p, bridge.AccessReadWrite, 0, func(name, target uint32) error {
			gl.BindTexture(target, name)
			gl.PixelStorei(gl.UNPACK_ALIGNMENT, 1)
			gl.TexSubImage2D(target, 0, 0, 0, hintSize, 64, gl.RGBA, gl.UNSIGNED_BYTE, gl.Ptr(rows))
			gl.BindTexture(target, 0)
			return glutil.CheckError("glTexSubImage2D")
		})
		wantMoved(t, "a write of 64 rows", moved, share.Moved{Filled: hintBytes, ReadBack: hintBytes, Stored: granular(64 << 10)})
		wantTexels(t, "Vulkan after the 64 rows", vkSees(t, p), append(rows, solid(n-hintSize*64, b)...))

		// Deferred: frame d is stored whole when frame e2 ends, e2 at
		// Flush. (Between the two, the test looks at the memory where a
		// caller would Flush first: it must hold d, whole.)
		moved = glDo(t, p, bridge.AccessReadWrite, share.WriteDiscard|share.DeferWriteBack, glClear(d))
		wantMoved(t, "a deferred WriteDiscard access", moved, share.Moved{ReadBack: hintBytes})
		moved = glDo(t, p, bridge.AccessReadWrite, share.WriteDiscard|share.DeferWriteBack, glClear(e2))
		wantMoved(t, "the next deferred access", moved, share.Moved{ReadBack: hintBytes, Stored: hintBytes})
		wantTexels(t, "Vulkan after the second deferred frame ended", vkSees(t, p), solid(n, d))
		var err error
		var before share.Moved
		e.ctx.Call(func() {
			before = share.MovedBy(p.gr)
			err = cmp.Or(p.gr.Flush(), p.gr.Flush())
			moved = share.MovedBy(p.gr).Sub(before)
		})
		if err != nil {
			t.Fatal(err)
		}
		wantMoved(t, "Flush", moved, share.Moved{Stored: hintBytes})
		wantTexels(t, "Vulkan after Flush", vkSees(t, p), solid(n, e2))

		// A read access after a deferred one stores it first.
		glDo(t, p, bridge.AccessReadWrite, share.WriteDiscard|share.DeferWriteBack, glClear(f))
		px, moved = glSees(t, p)
		wantMoved(t, "a read after a deferred write", moved, share.Moved{Filled: hintBytes, Stored: hintBytes})
		wantTexels(t, "GL after a deferred write", px, solid(n, f))
		wantTexels(t, "Vulkan after a deferred write", vkSees(t, p), solid(n, f))
	})
}

// TestVulkanAccessHints: the Vulkan side's copy path (host memory, and
// GL's Vulkan memory copied under ForceCopy) moves only what it must, as
// GL's does, and GL sees what it wrote.
func TestVulkanAccessHints(t *testing.T) {
	a := [4]byte{10, 20, 30, 40}
	n := hintSize * hintSize
	copyModes(t, func(t *testing.T, m mode, e *glEnv, v *share.Vulkan) {
		if !m.wantVK.Copies() {
			t.Skip("the Vulkan side is zero-copy")
		}
		p := newPair(t, m, e, v, desc2D(hintSize, hintSize, bridge.FormatR8G8B8A8Unorm))
		defer p.close()
		vkDo := func(mode bridge.Access, hint share.AccessHint, f func() error) share.Moved {
			t.Helper()
			before := share.MovedBy(p.vr)
			if err := p.vr.BeginAccessWith(mode, hint); err != nil {
				t.Fatal(err)
			}
			if err := cmp.Or(f(), p.vr.EndAccess()); err != nil {
				t.Fatal(err)
			}
			return share.MovedBy(p.vr).Sub(before)
		}
		clear := func() error { return p.vr.Clear(colour(a)) }
		nothing := func() error { return nil }
		wantMoved(t, "a WriteDiscard clear", vkDo(bridge.AccessReadWrite, share.WriteDiscard, clear), share.Moved{ReadBack: hintBytes, Stored: hintBytes})
		px, _ := glSees(t, p)
		wantTexels(t, "GL after the Vulkan clear", px, solid(n, a))
		wantMoved(t, "a read", vkDo(bridge.AccessRead, 0, nothing), share.Moved{Filled: hintBytes})
		wantMoved(t, "an unchanged write", vkDo(bridge.AccessReadWrite, 0, nothing), share.Moved{Filled: hintBytes, ReadBack: hintBytes})
		want := share.Moved{ReadBack: hintBytes}
		if !p.vr.Allocation().HostMemory {
			want.Stored = hintBytes // an image's contents are unknown without the fill
		}
		wantMoved(t, "a WriteDiscard clear to what was there", vkDo(bridge.AccessReadWrite, share.WriteDiscard|share.DeferWriteBack, clear), want)
		px, _ = glSees(t, p)
		wantTexels(t, "GL at the end", px, solid(n, a))
	})
}

// TestKeyedMutexHints: across the keyed mutex (a broker in this process)
// a deferred ReleaseSync releases only in Flush, once the frame is
// stored, so the Vulkan side cannot acquire it before; a read-only
// acquire stores nothing and still hands the mutex on (on the timeline
// path, signalling what the store would have); a WriteDiscard acquire
// skips the fill and the consumer sees its frame.
func TestKeyedMutexHints(t *testing.T) {
	const long = 60 * time.Second
	a, b := [4]byte{1, 2, 3, 4}, [4]byte{200, 100, 50, 25}
	n := hintSize * hintSize
	copyModes(t, func(t *testing.T, m mode, e *glEnv, v *share.Vulkan) {
		if m.name == "deny-memory-object" {
			t.Skip("the same GL side as forced-copy")
		}
		sock := startBroker(t)
		var cg, cv *broker.Client
		var err error
		if cg, err = broker.Dial(sock); err == nil {
			cv, err = broker.Dial(sock)
		}
		if err != nil {
			t.Fatal(err)
		}
		defer cg.Close()
		defer cv.Close()
		var gr *share.GLResource
		var kmt bridge.Handle
		e.ctx.Call(func() {
			if gr, err = e.g.Create(desc2D(hintSize, hintSize, bridge.FormatR8G8B8A8Unorm)); err == nil {
				kmt, err = gr.Share(cg, nil)
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		defer e.ctx.Call(func() { gr.Close() })
		res, err := cv.OpenKMT(kmt)
		if err != nil {
			t.Fatal(err)
		}
		vr, err := v.OpenShared(cv, res)
		closeResourceFDs(res)
		if err != nil {
			t.Fatal(err)
		}
		defer vr.Close()

		// glHeld acquires key with mode and hint, runs f and releases
		// next, returning what was moved.
		glHeld := func(key, next uint64, mode bridge.Access, hint share.AccessHint, f func(name, target uint32) error) (moved share.Moved) {
			t.Helper()
			e.ctx.Call(func() {
				before := share.MovedBy(gr)
				if _, err = gr.AcquireSyncWith(key, long, mode, hint); err != nil {
					return
				}
				name, target := gr.Texture()
				err = cmp.Or(f(name, target), gr.ReleaseSync(next))
				moved = share.MovedBy(gr).Sub(before)
			})
			if err != nil {
				t.Fatal(err)
			}
			return moved
		}
		vkRead := func(key, next uint64) []byte {
			t.Helper()
			before := share.MovedBy(vr)
			if _, err := vr.AcquireSyncWith(key, long, bridge.AccessRead, 0); err != nil {
				t.Fatal(err)
			}
			px, err := vr.ReadPixels(bridge.Subresource{})
			if err := cmp.Or(err, vr.ReleaseSync(next)); err != nil {
				t.Fatal(err)
			}
			if vr.Path().Copies() {
				wantMoved(t, "the Vulkan side's read-only acquire", share.MovedBy(vr).Sub(before), share.Moved{Filled: hintBytes})
			}
			return px
		}

		moved := glHeld(0, 1, bridge.AccessReadWrite, share.WriteDiscard|share.DeferWriteBack, glClear(a))
		wantMoved(t, "a deferred WriteDiscard release", moved, share.Moved{ReadBack: hintBytes})
		if _, err := vr.AcquireSync(1, 0); !errors.Is(err, bridge.ErrTimeout) {
			t.Fatalf("AcquireSync(1) before GL's Flush: %v; want a timeout (the mutex is released in Flush)", err)
		}
		e.ctx.Call(func() { err = gr.Flush() })
		if err != nil {
			t.Fatal(err)
		}
		wantTexels(t, "Vulkan after Flush released the mutex", vkRead(1, 0), solid(n, a))

		moved = glHeld(0, 1, bridge.AccessRead, 0, func(name, target uint32) error {
			px, err := glutil.ReadRGBA8(name, target, 0, hintSize, hintSize)
			if err == nil && !bytes.Equal(px, solid(n, a)) {
				err = fmt.Errorf("GL's read-only acquire sees texel %d differ", firstDiff(px, solid(n, a))/4)
			}
			return err
		})
		wantMoved(t, "GL's read-only acquire", moved, share.Moved{Filled: hintBytes})
		wantTexels(t, "Vulkan after GL's read-only acquire", vkRead(1, 0), solid(n, a))

		moved = glHeld(0, 1, bridge.AccessReadWrite, share.WriteDiscard, glClear(b))
		wantMoved(t, "a WriteDiscard acquire", moved, share.Moved{ReadBack: hintBytes, Stored: hintBytes})
		wantTexels(t, "Vulkan after the WriteDiscard acquire", vkRead(1, 0), solid(n, b))

		moved = glHeld(0, 1, bridge.AccessReadWrite, 0, func(uint32, uint32) error { return nil })
		wantMoved(t, "an unchanged read-write acquire", moved, share.Moved{Filled: hintBytes, ReadBack: hintBytes})
		wantTexels(t, "Vulkan after the unchanged acquire", vkRead(1, 0), solid(n, b))
	})
}

// TestAccessHintMisuse: hints that do not fit the access panic, before
// anything changes.
func TestAccessHintMisuse(t *testing.T) {
	e := testGL(t, share.Options{ForceCopy: true})
	v := testVulkan(t, share.Options{ForceCopy: true})
	p := newPair(t, modes[1], e, v, desc2D(4, 4, bridge.FormatR8G8B8A8Unorm))
	defer p.close()
	caught := func(f func()) (got any) {
		defer func() { got = recover() }()
		f()
		return nil
	}
	wantPanic := func(what, want string, got any) {
		t.Helper()
		if s, _ := got.(string); !strings.Contains(s, want) {
			t.Fatalf("%s: panic %v; want one saying %q", what, got, want)
		}
	}
	var gotRead, gotUnknown, gotAcquire any
	e.ctx.Call(func() {
		gotRead = caught(func() { p.gr.BeginAccessWith(bridge.AccessRead, share.WriteDiscard) })
		gotUnknown = caught(func() { p.gr.BeginAccessWith(bridge.AccessReadWrite, share.AccessHint(1<<9)) })
		gotAcquire = caught(func() { p.gr.AcquireSyncWith(0, 0, bridge.AccessRead, share.WriteDiscard) })
	})
	wantPanic("GL WriteDiscard read", "WriteDiscard needs an access that writes", gotRead)
	wantPanic("GL unknown hint", "unknown hint", gotUnknown)
	wantPanic("GL AcquireSync WriteDiscard read", "WriteDiscard needs an access that writes", gotAcquire)
	wantPanic("Vulkan WriteDiscard read", "WriteDiscard needs an access that writes",
		caught(func() { p.vr.BeginAccessWith(bridge.AccessRead, share.WriteDiscard) }))
	// Nothing was begun: a plain access still works.
	glDo(t, p, bridge.AccessReadWrite, share.WriteDiscard, glClear([4]byte{1, 1, 1, 1}))
	if err := p.vr.Access(bridge.AccessRead, func() error { return nil }); err != nil {
		t.Fatal(err)
	}
	if s := (share.WriteDiscard | share.DeferWriteBack).String(); s != "write-discard|defer-write-back" {
		t.Fatalf("String = %q", s)
	}
}
